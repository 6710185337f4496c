// The composer's voice recorder: a small state machine over the core's recorder commands and
// events. No audio passes through here, only levels, times and the finished draft.
import { CommandError, commands, messageOf, onVoiceEvent, unwrap } from './api';
import { VOICE_MAX_MS, type ApiError, type MessageView, type VoiceDraft, type VoiceEvent } from './bindings';
import { askMicrophone } from './platform';
import { draftTrack, player } from './player.svelte';

export type Phase = 'idle' | 'starting' | 'recording' | 'paused' | 'stopping' | 'preview' | 'sending';

/** The live waveform gets one bar per this many ms of recording, whatever the event rate. */
export const BAR_MS = 100;
/** Bars the live waveform keeps (the newest at the right; as many show as there is room for). */
export const LIVE_BARS = 150;
/** A hold shorter than this is taken as a tap: nothing is sent. */
export const MIN_HOLD_MS = 500;

/** Drafts made in this run of the app; any other draft survived a crash or a forced quit. */
// A plain Set on purpose: read when a draft is found, never a source of reactivity.
// eslint-disable-next-line svelte/prefer-svelte-reactivity
const madeHere = new Set<string>();

/** What went wrong, in words for the person recording. */
export function voiceErrorText(e: unknown): string {
  if (e instanceof CommandError) {
    switch (e.code) {
      case 'microphone':
        return 'No microphone is available. Check that one is connected and that Natter may use it.';
      case 'voice_too_long':
        return `Voice messages can be at most ${VOICE_MAX_MS / 1000} seconds long.`;
      case 'invalid_voice':
        return 'This recording could not be used. Please record it again.';
      case 'media_too_large':
        return 'This recording is too large to send.';
      case 'media_not_found':
        return 'This recording is no longer there.';
    }
  }
  return messageOf(e);
}

/** Runs a call whose failure the user cannot act on; logs it. */
function quietly(call: Promise<unknown>) {
  call.catch((e) => console.warn('voice:', messageOf(e)));
}

export class Recorder {
  phase = $state<Phase>('idle');
  /** How long the recording is, in ms. */
  elapsed = $state(0);
  /** Live input levels (0..1), one per BAR_MS, at most LIVE_BARS. */
  bars = $state.raw<number[]>([]);
  /** Ms left once the core warned that the limit is near, else null. */
  remaining = $state<number | null>(null);
  /** Ms that were left when the core warned (for the one announcement), else null. */
  warnedMs = $state<number | null>(null);
  /** The finished recording, while it is previewed. */
  draft = $state.raw<VoiceDraft | null>(null);
  /** Whether the draft was cut off by a crash and found again on opening the chat. */
  recovered = $state(false);
  error = $state('');

  readonly conversationId: string;
  readonly #onSent: (m: MessageView) => void | Promise<void>;
  #unlisten: (() => void) | null = null;
  #disposed = false;
  #bar = -1;
  #warnedAt = 0;
  #warnedLeft = 0;

  constructor(conversationId: string, onSent: (m: MessageView) => void | Promise<void>) {
    this.conversationId = conversationId;
    this.#onSent = onSent;
  }

  get active(): boolean {
    return ['starting', 'recording', 'paused', 'stopping'].includes(this.phase);
  }

  /** Listens to the core's recorder and looks for an unsent draft of this chat. */
  async attach() {
    const unlisten = await onVoiceEvent((e) => this.apply(e));
    if (this.#disposed) unlisten();
    else this.#unlisten = unlisten;
    await this.loadDrafts();
  }

  /** The chat closes: a recording in progress is kept as a draft, shown again on return. */
  dispose() {
    this.#disposed = true;
    this.#unlisten?.();
    if (this.phase === 'recording' || this.phase === 'paused') this.#keepAsDraft();
    if (this.draft) player.release(draftTrack(this.draft).key);
  }

  /** Shows the newest unsent draft of this chat, if there is one and nothing else is going on. */
  async loadDrafts() {
    try {
      const drafts = await unwrap(commands.voiceDrafts(this.conversationId));
      const d = drafts.at(-1);
      if (!d || this.phase !== 'idle' || this.#disposed) return;
      this.#preview(d, !madeHere.has(d.id));
    } catch (e) {
      this.error = voiceErrorText(e);
    }
  }

  /** Starts recording; false if it could not start (the error says why). */
  async start(): Promise<boolean> {
    if (this.phase !== 'idle') return false;
    this.#reset();
    this.phase = 'starting';
    try {
      await askMicrophone();
      await unwrap(commands.voiceStart(this.conversationId));
    } catch (e) {
      if (this.phase === 'starting') this.phase = 'idle';
      this.error = voiceErrorText(e);
      return false;
    }
    if (this.#disposed) {
      this.#keepAsDraft();
      return false;
    }
    if (this.phase !== 'starting') {
      // Cancelled while the microphone was opening.
      if (this.phase === 'idle') quietly(unwrap(commands.voiceCancel()));
      return false;
    }
    this.phase = 'recording';
    return true;
  }

  async pause() {
    if (this.phase !== 'recording') return;
    await this.#call(commands.voicePause(), 'paused');
  }

  async resume() {
    if (this.phase !== 'paused') return;
    await this.#call(commands.voiceResume(), 'recording');
  }

  /** Stops recording and shows the preview; false if there is nothing to preview. */
  async stop(): Promise<boolean> {
    if (this.phase === 'recording' || this.phase === 'paused') {
      this.phase = 'stopping';
      try {
        const d = await unwrap(commands.voiceStop());
        if (this.phase === 'stopping') this.#preview(d, false);
      } catch (e) {
        // Unless the limit stopped it at the same moment (the preview is already there).
        if (this.phase === 'stopping') {
          this.phase = 'idle';
          this.error = voiceErrorText(e);
        }
      }
    }
    return this.#previewing();
  }

  #previewing(): boolean {
    return this.phase === 'preview';
  }

  /** Stops and deletes the recording. */
  async cancel() {
    if (this.phase === 'starting') {
      this.phase = 'idle'; // start() cancels once the microphone is open
      return;
    }
    if (this.phase !== 'recording' && this.phase !== 'paused') return;
    this.phase = 'idle';
    this.#reset();
    try {
      await unwrap(commands.voiceCancel());
    } catch (e) {
      this.error = voiceErrorText(e);
    }
  }

  /** The end of a press-and-hold: sends at once, unless it was only a tap. */
  async release(): Promise<'sent' | 'short' | 'failed'> {
    if (this.phase === 'starting' || this.elapsed < MIN_HOLD_MS) {
      await this.cancel();
      return 'short';
    }
    if (!(await this.stop())) return 'failed';
    return (await this.send()) ? 'sent' : 'failed';
  }

  /** Sends the previewed draft. */
  async send(): Promise<boolean> {
    const d = this.draft;
    if (this.phase !== 'preview' || !d) return false;
    this.phase = 'sending';
    this.error = '';
    player.release(draftTrack(d).key);
    try {
      const m = await unwrap(commands.voiceSend(d.conversation_id, d.id, d.waveform));
      this.#clearDraft();
      await this.#onSent(m);
      return true;
    } catch (e) {
      if (this.phase === 'sending') this.phase = 'preview';
      this.error = voiceErrorText(e);
      return false;
    }
  }

  /** Deletes the previewed draft. */
  async discard() {
    const d = this.draft;
    if (this.phase !== 'preview' || !d) return;
    player.release(draftTrack(d).key);
    this.error = '';
    try {
      await unwrap(commands.voiceDiscardDraft(d.conversation_id, d.id));
      this.#clearDraft();
    } catch (e) {
      this.error = voiceErrorText(e);
    }
  }

  /** Applies one event of the core's recorder. */
  apply(e: VoiceEvent) {
    switch (e.type) {
      case 'level':
        if (!this.active) return;
        this.elapsed = e.elapsed_ms;
        this.#level(e.elapsed_ms, e.level ?? 0);
        if (this.remaining !== null) {
          this.remaining = Math.max(0, this.#warnedLeft - (e.elapsed_ms - this.#warnedAt));
        }
        break;
      case 'warning':
        if (!this.active) return;
        this.#warnedAt = this.elapsed;
        this.#warnedLeft = e.remaining_ms;
        this.remaining = e.remaining_ms;
        this.warnedMs = e.remaining_ms;
        break;
      case 'auto_stopped':
        if (e.draft.conversation_id !== this.conversationId || !this.active) return;
        this.#preview(e.draft, false);
        break;
      case 'error':
        if (!this.active) return;
        this.phase = 'idle';
        this.#reset();
        this.error = `Recording stopped: ${e.message}`;
        // What was recorded before the failure may have been kept.
        void this.loadDrafts();
        break;
    }
  }

  #level(elapsed: number, level: number) {
    const v = Math.min(1, Math.max(0, level));
    const bar = Math.floor(elapsed / BAR_MS);
    if (bar === this.#bar && this.bars.length) {
      const bars = [...this.bars];
      bars[bars.length - 1] = Math.max(bars[bars.length - 1], v);
      this.bars = bars;
    } else {
      this.#bar = bar;
      this.bars = [...this.bars, v].slice(-LIVE_BARS);
    }
  }

  async #call(call: Promise<{ status: 'ok'; data: null } | { status: 'error'; error: ApiError }>, next: Phase) {
    const was = this.phase;
    try {
      await unwrap(call);
      if (this.phase === was) this.phase = next;
    } catch (e) {
      this.error = voiceErrorText(e);
    }
  }

  #keepAsDraft() {
    unwrap(commands.voiceStop())
      .then((d) => madeHere.add(d.id))
      .catch((e) => console.warn('voice:', messageOf(e)));
  }

  #preview(d: VoiceDraft, recovered: boolean) {
    if (!recovered) madeHere.add(d.id);
    this.draft = d;
    this.recovered = recovered;
    this.remaining = null;
    this.warnedMs = null;
    this.phase = 'preview';
  }

  #clearDraft() {
    this.draft = null;
    this.recovered = false;
    this.phase = 'idle';
    this.#reset();
  }

  #reset() {
    this.elapsed = 0;
    this.bars = [];
    this.remaining = null;
    this.warnedMs = null;
    this.error = '';
    this.#bar = -1;
  }
}
