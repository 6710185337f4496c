// The one audio player of the app, shared by every voice note and the recording preview:
// starting one pauses the other. It remembers where each note stopped (saved in the core),
// reports notes from others as played, and goes on to the next unheard note when one ends.
import { SvelteMap, SvelteSet } from 'svelte/reactivity';
import { commands, messageOf, unwrap } from './api';
import type { MessageView, VoiceDraft } from './bindings';

export type AudioFormat = 'ogg' | 'wav';
export const MIME: Record<AudioFormat, string> = { ogg: 'audio/ogg', wav: 'audio/wav' };

/**
 * Which audio to ask the core for: Ogg Opus where the web view plays it (WebView2, WebKitGTK
 * with GStreamer), 16-bit WAV where it does not (older Apple WebKit answers '').
 */
export function playbackFormat(canPlayType: (type: string) => string): AudioFormat {
  return canPlayType('audio/ogg; codecs=opus') === '' ? 'wav' : 'ogg';
}

/** The bytes of a base64 string. */
export function base64Bytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Something the player can play: a voice message, or the preview of a recording. */
export type Track = {
  /** The message id, or `draft:<id>` for a recording not sent yet. */
  key: string;
  conversationId: string;
  durationMs: number;
  /** Where playback starts unless it stopped elsewhere this session. */
  startMs: number;
  /** The audio as base64, in the asked format or in the one it has. */
  fetch: (format: AudioFormat) => Promise<{ data: string; format: AudioFormat }>;
  /** Set for a voice message, not for a draft. */
  message: MessageView | null;
};

export function messageTrack(m: MessageView): Track {
  return {
    key: m.id,
    conversationId: m.conversation_id,
    durationMs: m.voice?.duration_ms ?? 0,
    startMs: m.voice?.position_ms ?? 0,
    fetch: async (format) => ({
      data: await unwrap(format === 'wav' ? commands.voiceWav(m.id) : commands.voiceAudio(m.id)),
      format,
    }),
    message: m,
  };
}

export function draftTrack(d: VoiceDraft): Track {
  return {
    key: `draft:${d.id}`,
    conversationId: d.conversation_id,
    durationMs: d.duration_ms,
    startMs: 0,
    fetch: async (format) => ({
      data: await unwrap(
        format === 'wav'
          ? commands.voiceDraftWav(d.conversation_id, d.id)
          : commands.voiceDraftAudio(d.conversation_id, d.id),
      ),
      format,
    }),
    message: null,
  };
}

export const SPEEDS = [1, 1.5, 2] as const;
export const SPEED_KEY = 'natter.voiceSpeed';
/** How often the position of a playing note is saved, so a crash loses little. */
export const SAVE_EVERY_MS = 5000;
/** A note stopped this close to its end starts again from the beginning. */
const NEAR_END_MS = 300;

function storedSpeed(): number {
  try {
    const v = Number(globalThis.localStorage?.getItem(SPEED_KEY));
    return (SPEEDS as readonly number[]).includes(v) ? v : 1;
  } catch {
    return 1;
  }
}

/** Runs a call whose failure the user cannot act on (saving a position); logs it. */
function quietly(call: Promise<unknown>) {
  call.catch((e) => console.warn('voice:', messageOf(e)));
}

export class VoicePlayer {
  /** The key of the loaded track (playing or paused), or null. */
  current = $state<string | null>(null);
  playing = $state(false);
  loading = $state(false);
  /** Position of the current track, in ms. */
  position = $state(0);
  /** Playback speed of every note (one preference, remembered). */
  speed = $state(storedSpeed());
  /** Why the last track could not be played. */
  error = $state<{ key: string; message: string } | null>(null);
  /** Where notes stopped this session: newer than the position their message carries. */
  readonly positions = new SvelteMap<string, number>();
  /** Notes from others played this session (their dot goes at once, before the core says so). */
  readonly played = new SvelteSet<string>();

  #audio: HTMLAudioElement | null = null;
  #track: Track | null = null;
  #url: string | null = null;
  /** Counts loads, so a late answer for a track no longer wanted is dropped. */
  #loads = 0;
  /** Where to start once the audio's metadata is known (seeking before it may be ignored). */
  #startAt: number | null = null;
  #saver: ReturnType<typeof setInterval> | null = null;
  #saved = -1;
  #frame = 0;

  /** The shared <audio> element (created on first use, hidden, in the document for tests). */
  element(): HTMLAudioElement {
    if (this.#audio) return this.#audio;
    const a = document.createElement('audio');
    a.preload = 'auto';
    a.dataset.testid = 'voice-audio';
    a.hidden = true;
    a.addEventListener('play', () => this.#sync());
    a.addEventListener('pause', () => this.#sync());
    a.addEventListener('playing', () => this.#sync());
    a.addEventListener('timeupdate', () => this.#tick());
    a.addEventListener('loadedmetadata', () => this.#applyStart());
    a.addEventListener('canplay', () => this.#applyStart());
    a.addEventListener('ended', () => void this.#ended());
    a.addEventListener('error', () => {
      // An aborted load (another track took over) is no failure.
      if (!this.#track || !this.#url || !a.error || a.error.code === MediaError.MEDIA_ERR_ABORTED) return;
      this.#fail(this.#track.key, 'This voice message could not be played.');
    });
    document.body.append(a);
    this.#audio = a;
    return a;
  }

  isPlaying(key: string): boolean {
    return this.current === key && this.playing;
  }

  /** Where a track is (or stopped), given what its message says. */
  positionOf(key: string, fallback: number): number {
    if (this.current === key) return this.position;
    return this.positions.get(key) ?? fallback;
  }

  /** Whether `key` plays or is about to (its audio is on its way). */
  isBusy(key: string): boolean {
    return this.current === key && (this.playing || this.loading);
  }

  async toggle(track: Track) {
    if (this.isBusy(track.key)) this.pause();
    else await this.play(track);
  }

  async play(track: Track) {
    const audio = this.element();
    this.error = null;
    if (this.current === track.key && this.#url) {
      if (this.position >= track.durationMs - NEAR_END_MS) this.#seekLoaded(0);
      await this.#start(audio, track);
      return;
    }
    this.#leave(true);
    const load = ++this.#loads;
    this.#track = track;
    this.current = track.key;
    this.loading = true;
    let from = this.positions.get(track.key) ?? track.startMs;
    if (from >= track.durationMs - NEAR_END_MS) from = 0;
    this.position = from;
    this.#saved = from;
    try {
      const { data, format } = await track.fetch(playbackFormat((t) => audio.canPlayType(t)));
      if (load !== this.#loads) return;
      this.#url = URL.createObjectURL(new Blob([base64Bytes(data)], { type: MIME[format] }));
      audio.dataset.messageId = track.message ? track.key : '';
      audio.src = this.#url;
      this.#startAt = this.position;
      audio.currentTime = this.position / 1000;
      await this.#start(audio, track);
    } catch (e) {
      if (load === this.#loads) this.#fail(track.key, messageOf(e));
    }
  }

  pause() {
    const t = this.#track;
    if (!t || !this.#audio) return;
    if (this.loading) {
      // Not started yet: it never will (playing again loads it anew).
      this.#loads++;
      this.loading = false;
    }
    this.#audio.pause();
    this.playing = false;
    this.#stopTimers();
    this.#save(t, this.position);
  }

  /** Moves a track to `ms`: the loaded one at once, another where it will start. */
  seek(track: Track, ms: number) {
    const to = Math.min(Math.max(0, ms), track.durationMs);
    if (this.current === track.key) {
      if (this.#url) this.#seekLoaded(to);
      else this.position = this.#startAt = to;
      if (!this.playing) this.#save(track, to);
    } else {
      this.positions.set(track.key, to);
      this.#save(track, to);
    }
  }

  cycleSpeed() {
    const i = SPEEDS.indexOf(this.speed as (typeof SPEEDS)[number]);
    this.speed = SPEEDS[(i + 1) % SPEEDS.length];
    try {
      localStorage.setItem(SPEED_KEY, String(this.speed));
    } catch {
      // Private mode or full storage: the speed still applies until the app closes.
    }
    if (this.#audio) {
      this.#audio.defaultPlaybackRate = this.speed;
      this.#audio.playbackRate = this.speed;
    }
  }

  /** Stops and unloads whatever is loaded, remembering where it stopped. */
  stop() {
    if (this.#track) this.#leave(true);
  }

  /** Stops and unloads `key` if it is the loaded track (a draft sent or deleted). */
  release(key: string) {
    if (this.current === key) this.#leave(false);
  }

  /** Stops what plays unless it belongs to `conversationId` (another chat opened). */
  leaveConversation(conversationId: string | null) {
    if (this.#track && this.#track.conversationId !== conversationId) this.#leave(true);
  }

  async #start(audio: HTMLAudioElement, track: Track) {
    audio.defaultPlaybackRate = this.speed;
    audio.playbackRate = this.speed;
    this.playing = true;
    this.loading = true;
    const load = this.#loads;
    try {
      await audio.play();
    } catch (e) {
      // Interrupted by a pause or another track: not an error.
      if (e instanceof DOMException && e.name === 'AbortError') return;
      if (load === this.#loads) this.#fail(track.key, messageOf(e));
      return;
    } finally {
      if (load === this.#loads) this.loading = false;
    }
    if (load !== this.#loads || this.#track !== track) return;
    this.#sync();
    const m = track.message;
    if (m && !m.mine && !m.voice?.played && !this.played.has(m.id)) {
      this.played.add(m.id);
      quietly(unwrap(commands.voicePlayed(m.id)));
    }
    this.#startTimers();
  }

  #sync() {
    if (!this.#audio || !this.#track) return;
    this.playing = !this.#audio.paused;
    if (!this.playing) this.#stopTimers();
  }

  #tick() {
    const a = this.#audio;
    if (!a || !this.#track || this.#startAt !== null) return;
    this.position = Math.min(a.currentTime * 1000, this.#track.durationMs);
  }

  #applyStart() {
    const a = this.#audio;
    if (!a || this.#startAt === null) return;
    if (Math.abs(a.currentTime * 1000 - this.#startAt) > 250) a.currentTime = this.#startAt / 1000;
    this.#startAt = null;
  }

  #seekLoaded(ms: number) {
    const a = this.element();
    a.currentTime = ms / 1000;
    this.position = ms;
    if (a.readyState < 1) this.#startAt = ms;
  }

  async #ended() {
    const t = this.#track;
    if (!t) return;
    this.positions.set(t.key, 0);
    this.#save(t, 0);
    this.#leave(false);
    if (!t.message) return;
    try {
      const next = await unwrap(commands.voiceNextUnplayed(t.key));
      // Only if nothing else started meanwhile.
      if (next?.voice && this.#track === null) await this.play(messageTrack(next));
    } catch (e) {
      console.warn('voice:', messageOf(e));
    }
  }

  #fail(key: string, message: string) {
    this.#leave(false);
    this.error = { key, message };
  }

  /** Saves where a voice message stopped (in the session and in the core). */
  #save(t: Track, ms: number) {
    if (!t.message) return;
    const at = Math.round(ms);
    this.positions.set(t.key, at);
    if (this.current === t.key) this.#saved = at;
    quietly(unwrap(commands.voicePosition(t.key, at)));
  }

  #startTimers() {
    this.#stopTimers();
    const t = this.#track;
    if (!t) return;
    this.#saver = setInterval(() => {
      if (this.#track === t && this.playing && Math.round(this.position) !== this.#saved) {
        this.#save(t, this.position);
      }
    }, SAVE_EVERY_MS);
    // Smooth progress between the few timeupdate events a second.
    if (typeof requestAnimationFrame === 'function') {
      const frame = () => {
        this.#tick();
        this.#frame = requestAnimationFrame(frame);
      };
      this.#frame = requestAnimationFrame(frame);
    }
  }

  #stopTimers() {
    if (this.#saver) clearInterval(this.#saver);
    this.#saver = null;
    if (this.#frame && typeof cancelAnimationFrame === 'function') cancelAnimationFrame(this.#frame);
    this.#frame = 0;
  }

  /** Unloads the current track, saving where it stopped if asked. */
  #leave(save: boolean) {
    const t = this.#track;
    this.#loads++;
    this.#stopTimers();
    if (t && save) this.#save(t, this.position);
    const a = this.#audio;
    if (a && this.#url) {
      a.pause();
      a.removeAttribute('src');
      a.load();
      URL.revokeObjectURL(this.#url);
    }
    this.#url = null;
    this.#track = null;
    this.#startAt = null;
    this.current = null;
    this.playing = false;
    this.loading = false;
    this.position = 0;
  }
}

/** The player of the app. */
export const player = new VoicePlayer();
