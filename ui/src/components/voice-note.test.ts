import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, within } from '@testing-library/svelte';
import type { MessageView, VoiceView } from '../lib/bindings';
import { endPlayback, installFakeMedia } from '../lib/fake-media';

// The edge of what a unit test can have: the Tauri bridge. The player and bubbles are real.
const api = vi.hoisted(() => {
  const ok = (data: unknown) => Promise.resolve({ status: 'ok', data });
  return {
    ok,
    commands: {
      voiceAudio: vi.fn((id: string) => ok(btoa(`OggS ${id}`))),
      voiceWav: vi.fn((id: string) => ok(btoa(`RIFF ${id}`))),
      voicePlayed: vi.fn<(id: string) => Promise<unknown>>(() => ok(null)),
      voicePosition: vi.fn<(id: string, ms: number) => Promise<unknown>>(() => ok(null)),
      voiceNextUnplayed: vi.fn<(id: string) => Promise<unknown>>(() => ok(null)),
    },
  };
});
vi.mock('../lib/bindings', () => ({
  commands: api.commands,
  events: {
    natterEvent: { listen: async () => () => {} },
    voiceEvent: { listen: async () => () => {} },
  },
  TEXT_MAX_CHARS: 4000,
  VOICE_MAX_MS: 60000,
}));

const { player, playbackFormat, SAVE_EVERY_MS, SPEED_KEY } = await import('../lib/player.svelte');
const { default: MessageBubble } = await import('./MessageBubble.svelte');

const media = installFakeMedia();

function voice(extra: Partial<VoiceView> = {}): VoiceView {
  return { media_id: 'm', duration_ms: 7400, size: 9000, waveform: Array(64).fill(128), played: false, position_ms: 0, ...extra };
}

function note(id: string, extra: Partial<MessageView> = {}, v: Partial<VoiceView> = {}): MessageView {
  return {
    id,
    conversation_id: 'c',
    seq: 1,
    sort_key: 1,
    sender_id: 'b',
    sender: 'bob',
    text: '',
    sent_at: Date.now(),
    mine: false,
    status: 'received',
    error: null,
    held_until: null,
    blocked_sender: false,
    event: null,
    voice: voice(v),
    media: [],
    ...extra,
  };
}

function audio(): HTMLAudioElement {
  const a = document.querySelector<HTMLAudioElement>('[data-testid="voice-audio"]');
  if (!a) throw new Error('no shared audio element yet');
  return a;
}

/** One bubble, with queries that look inside it only (several may be on the page). */
function bubble(message: MessageView) {
  const r = render(MessageBubble, { message, showSender: false });
  return { ...r, ...within(r.container) };
}

function readText(b: Blob): Promise<string> {
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.readAsText(b);
  });
}

/** Gives the waveform a 100 px wide box starting at x = 0 (jsdom lays nothing out). */
function sized(el: HTMLElement): HTMLElement {
  el.getBoundingClientRect = () => ({ left: 0, top: 0, width: 100, height: 40, right: 100, bottom: 40, x: 0, y: 0, toJSON() {} });
  return el;
}

beforeEach(() => {
  media.canPlay = 'probably';
  media.blobs.length = 0;
});

afterEach(() => {
  cleanup();
  player.stop();
  player.positions.clear();
  player.played.clear();
  player.speed = 1;
  localStorage.clear();
  vi.clearAllMocks();
});

describe('voice bubble', () => {
  it('shows the duration, and the unplayed dot on others\' notes only', () => {
    const theirs = bubble(note('a'));
    expect(theirs.getByTestId('voice-bubble').dataset.durationMs).toBe('7400');
    expect(theirs.getByTestId('voice-bubble').dataset.id).toBe('a');
    expect(theirs.getByTestId('voice-time').textContent).toBe('0:07');
    expect(theirs.getByTestId('voice-unplayed')).toBeTruthy();
    expect(theirs.getByLabelText('Play voice message from bob, 0:07')).toBeTruthy();
    theirs.unmount();

    const mineUnplayed = bubble(note('b', { mine: true, status: 'sent' }));
    expect(mineUnplayed.queryByTestId('voice-unplayed')).toBeNull();
    expect(mineUnplayed.queryByTestId('voice-played')).toBeNull();
    mineUnplayed.unmount();

    const minePlayed = bubble(note('c', { mine: true, status: 'read' }, { played: true }));
    expect(minePlayed.getByTestId('voice-played')).toBeTruthy();
    expect(minePlayed.queryByTestId('message-text')).toBeNull();
  });

  it('cycles the speed 1× → 1.5× → 2× → 1× for every note and remembers it', async () => {
    const { getAllByTestId } = render(MessageBubble, { message: note('a'), showSender: false });
    bubble(note('b'));
    const [speedA, speedB] = getAllByTestId('voice-speed');
    expect(speedA.textContent).toBe('1×');
    await fireEvent.click(speedA);
    expect(speedA.textContent).toBe('1.5×');
    expect(speedB.textContent).toBe('1.5×');
    expect(localStorage.getItem(SPEED_KEY)).toBe('1.5');
    await fireEvent.click(speedB);
    expect(speedA.textContent).toBe('2×');
    await fireEvent.click(getAllByTestId('voice-play')[0]);
    await vi.waitFor(() => expect(media.play).toHaveBeenCalled());
    expect(audio().playbackRate).toBe(2);
    await fireEvent.click(speedA);
    expect(speedA.textContent).toBe('1×');
    expect(localStorage.getItem(SPEED_KEY)).toBe('1');
    expect(audio().playbackRate).toBe(1);
  });

  it('seeks where the waveform is clicked and steps 5 % with the arrow keys', async () => {
    const { getByTestId, getByRole } = bubble(note('a', {}, { duration_ms: 8000 }));
    await fireEvent.click(getByTestId('voice-play'));
    await vi.waitFor(() => expect(media.play).toHaveBeenCalled());
    const wave = sized(getByRole('slider'));
    await fireEvent.click(wave, { clientX: 25 });
    expect(audio().currentTime).toBeCloseTo(2);
    expect(wave.getAttribute('aria-valuenow')).toBe('2000');
    expect(wave.getAttribute('aria-valuetext')).toBe('0:02 of 0:08');
    await fireEvent.keyDown(wave, { key: 'ArrowRight' });
    expect(audio().currentTime).toBeCloseTo(2.4);
    await fireEvent.keyDown(wave, { key: 'Home' });
    expect(audio().currentTime).toBe(0);
  });

  it('starts a note that is not playing from where its waveform was clicked', async () => {
    const { getByTestId, getByRole } = bubble(note('a', {}, { duration_ms: 8000 }));
    await fireEvent.click(sized(getByRole('slider')), { clientX: 50 });
    expect(api.commands.voicePosition).toHaveBeenLastCalledWith('a', 4000);
    await fireEvent.click(getByTestId('voice-play'));
    await vi.waitFor(() => expect(media.play).toHaveBeenCalled());
    expect(audio().currentTime).toBe(4);
  });

  it('resumes where the note was left', async () => {
    const { getByTestId } = bubble(note('a', {}, { position_ms: 3000 }));
    await fireEvent.click(getByTestId('voice-play'));
    await vi.waitFor(() => expect(media.play).toHaveBeenCalled());
    expect(audio().currentTime).toBe(3);
    expect(audio().dataset.messageId).toBe('a');
  });

  it('reports someone else\'s note as played once, and its dot goes', async () => {
    const { getByTestId, queryByTestId } = bubble(note('a'));
    const play = getByTestId('voice-play');
    await fireEvent.click(play);
    await vi.waitFor(() => expect(api.commands.voicePlayed).toHaveBeenCalledWith('a'));
    expect(queryByTestId('voice-unplayed')).toBeNull();
    expect(getByTestId('voice-bubble').dataset.playing).toBe('true');
    await fireEvent.click(play); // pause
    await fireEvent.click(play); // play again
    await vi.waitFor(() => expect(media.play).toHaveBeenCalledTimes(2));
    expect(api.commands.voicePlayed).toHaveBeenCalledTimes(1);
  });

  it('does not report own notes as played', async () => {
    const { getByTestId } = bubble(note('a', { mine: true, status: 'sent' }));
    await fireEvent.click(getByTestId('voice-play'));
    await vi.waitFor(() => expect(media.play).toHaveBeenCalled());
    expect(api.commands.voicePlayed).not.toHaveBeenCalled();
  });

  it('saves the position on pause', async () => {
    const { getByTestId } = bubble(note('a'));
    await fireEvent.click(getByTestId('voice-play'));
    await vi.waitFor(() => expect(media.play).toHaveBeenCalled());
    audio().dispatchEvent(new Event('loadedmetadata'));
    audio().currentTime = 3.2;
    audio().dispatchEvent(new Event('timeupdate'));
    await fireEvent.click(getByTestId('voice-play'));
    expect(api.commands.voicePosition).toHaveBeenLastCalledWith('a', 3200);
    expect(getByTestId('voice-time').textContent).toBe('0:03');
    expect(getByTestId('voice-bubble').dataset.playing).toBe('false');
  });

  it('saves the position every few seconds while playing', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const { getByTestId } = bubble(note('a', {}, { duration_ms: 30_000 }));
      await fireEvent.click(getByTestId('voice-play'));
      await new Promise((resolve) => setTimeout(resolve, 0)); // playing: the saver is set
      expect(media.play).toHaveBeenCalled();
      audio().dispatchEvent(new Event('loadedmetadata'));
      audio().currentTime = 4.5;
      audio().dispatchEvent(new Event('timeupdate'));
      vi.advanceTimersByTime(SAVE_EVERY_MS);
      expect(api.commands.voicePosition).toHaveBeenLastCalledWith('a', 4500);
      vi.advanceTimersByTime(SAVE_EVERY_MS); // not moved: nothing new to save
      expect(api.commands.voicePosition).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('plays one note at a time, saving where the first stopped', async () => {
    const a = bubble(note('a'));
    const b = bubble(note('b'));
    await fireEvent.click(a.getByTestId('voice-play'));
    await vi.waitFor(() => expect(a.getByTestId('voice-bubble').dataset.playing).toBe('true'));
    audio().dispatchEvent(new Event('loadedmetadata'));
    audio().currentTime = 1.5;
    audio().dispatchEvent(new Event('timeupdate'));
    await fireEvent.click(b.getByTestId('voice-play'));
    await vi.waitFor(() => expect(b.getByTestId('voice-bubble').dataset.playing).toBe('true'));
    expect(a.getByTestId('voice-bubble').dataset.playing).toBe('false');
    expect(api.commands.voicePosition).toHaveBeenCalledWith('a', 1500);
    expect(audio().dataset.messageId).toBe('b');
  });

  it('when a note ends, forgets its position and plays the next unheard one', async () => {
    const a = bubble(note('a'));
    const b = bubble(note('b', { sort_key: 2, seq: 2 }));
    api.commands.voiceNextUnplayed.mockImplementationOnce(() => api.ok(note('b', { sort_key: 2, seq: 2 })));
    await fireEvent.click(a.getByTestId('voice-play'));
    await vi.waitFor(() => expect(media.play).toHaveBeenCalledTimes(1));
    endPlayback(audio());
    await vi.waitFor(() => expect(b.getByTestId('voice-bubble').dataset.playing).toBe('true'));
    expect(api.commands.voicePosition).toHaveBeenCalledWith('a', 0);
    expect(api.commands.voiceNextUnplayed).toHaveBeenCalledWith('a');
    expect(api.commands.voiceAudio).toHaveBeenLastCalledWith('b');
    expect(a.getByTestId('voice-bubble').dataset.playing).toBe('false');
    expect(a.getByTestId('voice-time').textContent).toBe('0:07');
  });

  it('a second tap while the audio is on its way stops it from starting', async () => {
    let arrive: (v: { status: string; data: unknown }) => void = () => {};
    api.commands.voiceAudio.mockImplementationOnce(() => new Promise((resolve) => (arrive = resolve)));
    const { getByTestId } = bubble(note('a'));
    const play = getByTestId('voice-play');
    await fireEvent.click(play);
    expect(play.getAttribute('aria-label')).toMatch(/^Pause/);
    await fireEvent.click(play);
    expect(play.getAttribute('aria-label')).toMatch(/^Play/);
    arrive({ status: 'ok', data: btoa('OggS late') });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(media.play).not.toHaveBeenCalled();
    expect(getByTestId('voice-bubble').dataset.playing).toBe('false');
  });

  it('takes a new version of the message (played, position) without restarting playback', async () => {
    const { getByTestId, rerender } = bubble(note('a'));
    await fireEvent.click(getByTestId('voice-play'));
    await vi.waitFor(() => expect(media.play).toHaveBeenCalled());
    await rerender({ message: note('a', {}, { played: true, position_ms: 5000 }), showSender: false });
    expect(getByTestId('voice-bubble').dataset.playing).toBe('true');
    expect(media.play).toHaveBeenCalledTimes(1);
    expect(api.commands.voiceAudio).toHaveBeenCalledTimes(1);
    expect(media.pause).not.toHaveBeenCalled();
  });

  it('shows upload progress while sending', () => {
    const { getByLabelText } = render(MessageBubble, {
      message: note('a', { mine: true, status: 'sending', seq: null }),
      showSender: false,
      upload: { sent: 300, total: 1200 },
    });
    const bar = getByLabelText('Uploading voice message') as HTMLProgressElement;
    expect(bar.value).toBe(25);
    expect(bar.getAttribute('aria-valuetext')).toBe('25 % uploaded');
  });
});

describe('playback format', () => {
  it('asks for Ogg Opus where the web view plays it, WAV where it does not', () => {
    expect(playbackFormat(() => 'probably')).toBe('ogg');
    expect(playbackFormat(() => 'maybe')).toBe('ogg');
    expect(playbackFormat(() => '')).toBe('wav');
  });

  it('plays WAV from voiceWav when Ogg Opus cannot be played', async () => {
    media.canPlay = '';
    const { getByTestId } = bubble(note('a'));
    await fireEvent.click(getByTestId('voice-play'));
    await vi.waitFor(() => expect(media.play).toHaveBeenCalled());
    expect(api.commands.voiceWav).toHaveBeenCalledWith('a');
    expect(api.commands.voiceAudio).not.toHaveBeenCalled();
    expect(media.blobs.at(-1)?.type).toBe('audio/wav');
    expect(await readText(media.blobs.at(-1) as Blob)).toBe('RIFF a');
  });

  it('plays Ogg Opus from voiceAudio where it can', async () => {
    const { getByTestId } = bubble(note('a'));
    await fireEvent.click(getByTestId('voice-play'));
    await vi.waitFor(() => expect(media.play).toHaveBeenCalled());
    expect(api.commands.voiceAudio).toHaveBeenCalledWith('a');
    expect(api.commands.voiceWav).not.toHaveBeenCalled();
    expect(media.blobs.at(-1)?.type).toBe('audio/ogg');
    expect(audio().src).toBe('blob:fake/1');
  });
});
