import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render } from '@testing-library/svelte';
import { tick } from 'svelte';
import type { MessageView, VoiceDraft, VoiceEvent } from '../lib/bindings';
import { installFakeMedia } from '../lib/fake-media';

// The edge of what a unit test can have: the Tauri bridge. Recorder and composer are real.
const api = vi.hoisted(() => {
  const ok = (data: unknown) => Promise.resolve({ status: 'ok', data });
  const fail = (code: string, message: string) => Promise.resolve({ status: 'error', error: { code, message } });
  const draft = { id: 'd1', conversation_id: 'c', duration_ms: 7400, waveform: Array.from({ length: 64 }, (_, i) => i * 4) };
  const sent = { id: 'm1', conversation_id: 'c', text: '', mine: true, status: 'sending' };
  const listeners: Array<(e: { payload: unknown }) => void> = [];
  return {
    ok,
    fail,
    draft,
    sent,
    listeners,
    commands: {
      voiceStart: vi.fn<(c: string) => Promise<unknown>>(() => ok(null)),
      voicePause: vi.fn(() => ok(null)),
      voiceResume: vi.fn(() => ok(null)),
      voiceStop: vi.fn(() => ok(draft)),
      voiceCancel: vi.fn(() => ok(null)),
      voiceDrafts: vi.fn<(c: string) => Promise<unknown>>(() => ok([])),
      voiceDraftAudio: vi.fn<(c: string, id: string) => Promise<unknown>>(() => ok(btoa('OggS draft'))),
      voiceDraftWav: vi.fn<(c: string, id: string) => Promise<unknown>>(() => ok(btoa('RIFF draft'))),
      voiceSend: vi.fn<(c: string, id: string, w: number[] | null) => Promise<unknown>>(() => ok(sent)),
      voiceDiscardDraft: vi.fn<(c: string, id: string) => Promise<unknown>>(() => ok(null)),
      turnOffMediaReminder: vi.fn<(c: string) => Promise<unknown>>(() => ok(null)),
    },
  };
});
vi.mock('../lib/bindings', () => ({
  commands: api.commands,
  events: {
    natterEvent: { listen: async () => () => {} },
    voiceEvent: {
      listen: async (cb: (e: { payload: unknown }) => void) => {
        api.listeners.push(cb);
        return () => api.listeners.splice(api.listeners.indexOf(cb), 1);
      },
    },
  },
  TEXT_MAX_CHARS: 4000,
  VOICE_MAX_MS: 60000,
}));

const { default: Composer } = await import('./Composer.svelte');
const { player } = await import('../lib/player.svelte');
const media = installFakeMedia();

async function emit(e: VoiceEvent) {
  for (const l of [...api.listeners]) l({ payload: e });
  await tick();
}

/** A composer for chat "c", listening to the recorder (drafts looked up) before it returns. */
async function composer(onVoiceSent = vi.fn<(m: MessageView) => void>()) {
  const r = render(Composer, { onSend: () => {}, onTyping: () => {}, conversationId: 'c', onVoiceSent });
  await vi.waitFor(() => expect(api.commands.voiceDrafts).toHaveBeenCalledWith('c'));
  await tick();
  return { ...r, onVoiceSent };
}

function touch(type: 'pointerDown' | 'pointerMove' | 'pointerUp', el: Element, x: number, y: number) {
  return fireEvent[type](el, { pointerId: 7, pointerType: 'touch', clientX: x, clientY: y });
}

beforeEach(() => {
  api.listeners.length = 0;
});

afterEach(() => {
  cleanup();
  player.stop();
  vi.clearAllMocks();
});

describe('recording (mouse and keyboard)', () => {
  it('shows the microphone when the text field is empty, the send button when not', async () => {
    const { getByTestId, queryByTestId } = await composer();
    expect(getByTestId('record').getAttribute('aria-label')).toBe('Record voice message');
    expect(queryByTestId('send')).toBeNull();
    await fireEvent.input(getByTestId('composer'), { target: { value: 'hi' } });
    expect(queryByTestId('record')).toBeNull();
    expect(getByTestId('send')).toBeTruthy();
  });

  it('records on a click, counts the time from the recorder\'s levels, and Escape deletes it', async () => {
    const { getByTestId, queryByTestId } = await composer();
    await fireEvent.click(getByTestId('record'));
    expect(api.commands.voiceStart).toHaveBeenCalledWith('c');
    await tick();
    expect(getByTestId('recording')).toBeTruthy();
    expect(queryByTestId('composer')).toBeNull();
    expect(getByTestId('record-timer').textContent).toBe('0:00 / 1:00');
    await emit({ type: 'level', level: 0.5, elapsed_ms: 3100 });
    expect(getByTestId('record-timer').textContent).toBe('0:03 / 1:00');
    await fireEvent.keyDown(window, { key: 'Escape' });
    expect(api.commands.voiceCancel).toHaveBeenCalled();
    await tick();
    expect(queryByTestId('recording')).toBeNull();
    expect(getByTestId('composer')).toBeTruthy();
  });

  it('pauses and resumes', async () => {
    const { getByTestId } = await composer();
    await fireEvent.click(getByTestId('record'));
    await vi.waitFor(() => expect((getByTestId('record-pause') as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(getByTestId('record-pause'));
    expect(api.commands.voicePause).toHaveBeenCalled();
    await vi.waitFor(() => expect(getByTestId('record-pause').getAttribute('aria-label')).toBe('Resume recording'));
    await fireEvent.click(getByTestId('record-pause'));
    expect(api.commands.voiceResume).toHaveBeenCalled();
    await vi.waitFor(() => expect(getByTestId('record-pause').getAttribute('aria-label')).toBe('Pause recording'));
  });

  it('stops to a preview, plays it, and sends the draft with its waveform', async () => {
    const { getByTestId, queryByTestId, onVoiceSent } = await composer();
    await fireEvent.click(getByTestId('record'));
    await vi.waitFor(() => expect((getByTestId('record-stop') as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(getByTestId('record-stop'));
    expect(api.commands.voiceStop).toHaveBeenCalled();
    await vi.waitFor(() => expect(getByTestId('voice-preview')).toBeTruthy());
    expect(getByTestId('preview-time').textContent).toBe('0:00 / 0:07');
    expect(queryByTestId('voice-recovered')).toBeNull();

    await fireEvent.click(getByTestId('preview-play'));
    await vi.waitFor(() => expect(media.play).toHaveBeenCalled());
    expect(api.commands.voiceDraftAudio).toHaveBeenCalledWith('c', 'd1');
    expect(media.blobs.at(-1)?.type).toBe('audio/ogg');

    await fireEvent.click(getByTestId('preview-send'));
    expect(api.commands.voiceSend).toHaveBeenCalledWith('c', 'd1', api.draft.waveform);
    await vi.waitFor(() => expect(onVoiceSent).toHaveBeenCalledWith(api.sent));
    await tick();
    expect(queryByTestId('voice-preview')).toBeNull();
    expect(getByTestId('record')).toBeTruthy();
    expect(player.current).toBeNull(); // the preview stopped playing
  });

  it('previews as WAV where the web view cannot play Ogg Opus', async () => {
    media.canPlay = '';
    try {
      const { getByTestId } = await composer();
      await fireEvent.click(getByTestId('record'));
      await vi.waitFor(() => expect((getByTestId('record-stop') as HTMLButtonElement).disabled).toBe(false));
      await fireEvent.click(getByTestId('record-stop'));
      await vi.waitFor(() => expect(getByTestId('voice-preview')).toBeTruthy());
      await fireEvent.click(getByTestId('preview-play'));
      await vi.waitFor(() => expect(media.play).toHaveBeenCalled());
      expect(api.commands.voiceDraftWav).toHaveBeenCalledWith('c', 'd1');
      expect(media.blobs.at(-1)?.type).toBe('audio/wav');
    } finally {
      media.canPlay = 'probably';
    }
  });

  it('explains instead of recording where voice notes are not allowed yet', async () => {
    const why = 'a photo, video or voice note cannot be the first message: say hello in text first';
    const r = render(Composer, {
      onSend: () => {},
      onTyping: () => {},
      conversationId: 'c',
      mediaBlocked: why,
    });
    await vi.waitFor(() => expect(api.commands.voiceDrafts).toHaveBeenCalledWith('c'));
    const mic = r.getByTestId('record');
    expect(mic.getAttribute('aria-disabled')).toBe('true');
    api.commands.voiceStart.mockClear();
    await fireEvent.click(mic);
    expect(api.commands.voiceStart).not.toHaveBeenCalled();
    expect(r.getByRole('status').textContent).toContain('say hello in text first');
    expect(r.queryByTestId('recording')).toBeNull();
  });

  it('deletes the preview', async () => {
    api.commands.voiceDrafts.mockImplementationOnce(() => api.ok([api.draft]));
    const { getByTestId, queryByTestId } = await composer();
    await vi.waitFor(() => expect(getByTestId('voice-preview')).toBeTruthy());
    await fireEvent.click(getByTestId('preview-discard'));
    expect(api.commands.voiceDiscardDraft).toHaveBeenCalledWith('c', 'd1');
    await vi.waitFor(() => expect(queryByTestId('voice-preview')).toBeNull());
    expect(getByTestId('composer')).toBeTruthy();
  });

  it('warns 10 seconds before the limit, and shows the preview when the limit stops it', async () => {
    const { getByTestId, getByText } = await composer();
    await fireEvent.click(getByTestId('record'));
    await tick();
    await emit({ type: 'level', level: 0.2, elapsed_ms: 50_000 });
    await emit({ type: 'warning', remaining_ms: 10_000 });
    expect(getByTestId('record-warning').textContent).toBe('10 s left');
    expect(getByText(/stops by itself in 10 seconds/)).toBeTruthy();
    await emit({ type: 'level', level: 0.2, elapsed_ms: 53_000 });
    expect(getByTestId('record-warning').textContent).toBe('7 s left');
    const full: VoiceDraft = { ...api.draft, id: 'd2', duration_ms: 60_000 };
    await emit({ type: 'auto_stopped', draft: full });
    expect(getByTestId('preview-time').textContent).toBe('0:00 / 1:00');
    expect(api.commands.voiceStop).not.toHaveBeenCalled();
  });

  it('says in plain words when there is no microphone', async () => {
    api.commands.voiceStart.mockImplementationOnce(() => api.fail('microphone', 'no input device'));
    const { getByTestId, getByRole } = await composer();
    await fireEvent.click(getByTestId('record'));
    await vi.waitFor(() => expect(getByRole('alert').textContent).toContain('No microphone is available'));
    expect(getByTestId('composer')).toBeTruthy();
  });

  it('says why recording stopped when the recorder fails', async () => {
    const { getByTestId, getByRole } = await composer();
    await fireEvent.click(getByTestId('record'));
    await tick();
    await emit({ type: 'error', message: 'the microphone was unplugged' });
    expect(getByRole('alert').textContent).toBe('Recording stopped: the microphone was unplugged');
  });

  it('shows a recording cut off by a crash when the chat opens', async () => {
    api.commands.voiceDrafts.mockImplementationOnce(() => api.ok([{ ...api.draft, id: 'crashed' }]));
    const { getByTestId } = await composer();
    await vi.waitFor(() => expect(getByTestId('voice-preview')).toBeTruthy());
    expect(getByTestId('voice-recovered').textContent).toBe('Recovered recording');
    await fireEvent.click(getByTestId('preview-send'));
    expect(api.commands.voiceSend).toHaveBeenCalledWith('c', 'crashed', api.draft.waveform);
  });

  it('keeps a recording as a draft when the chat closes', async () => {
    const { getByTestId, unmount } = await composer();
    await fireEvent.click(getByTestId('record'));
    await vi.waitFor(() => expect(getByTestId('record-stop')).toBeTruthy());
    await tick();
    unmount();
    expect(api.commands.voiceStop).toHaveBeenCalled();
    expect(api.commands.voiceCancel).not.toHaveBeenCalled();
  });
});

describe('the reminder before a voice note goes out', () => {
  async function reminded(can_turn_off: boolean) {
    const r = render(Composer, {
      onSend: () => {},
      onTyping: () => {},
      conversationId: 'c',
      mediaReminder: { show: true, can_turn_off },
      audience: 'bob',
    });
    await vi.waitFor(() => expect(api.commands.voiceDrafts).toHaveBeenCalledWith('c'));
    await fireEvent.click(r.getByTestId('record'));
    await vi.waitFor(() => expect((r.getByTestId('record-stop') as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(r.getByTestId('record-stop'));
    await vi.waitFor(() => expect(r.getByTestId('voice-preview')).toBeTruthy());
    api.commands.voiceSend.mockClear();
    await fireEvent.click(r.getByTestId('preview-send'));
    await tick();
    return r;
  }

  it('asks first: who will hear it and that it can be saved; nothing goes until confirmed', async () => {
    const r = await reminded(true);
    const dialog = r.getByTestId('media-reminder');
    expect(dialog.textContent).toContain('bob will be able to hear it');
    expect(dialog.textContent).toContain('save it');
    expect(api.commands.voiceSend).not.toHaveBeenCalled();
    await fireEvent.click(r.getByTestId('reminder-send'));
    await vi.waitFor(() => expect(api.commands.voiceSend).toHaveBeenCalledWith('c', 'd1', api.draft.waveform));
    expect(api.commands.turnOffMediaReminder).not.toHaveBeenCalled();
  });

  it('lets an adult turn it off for this chat', async () => {
    const r = await reminded(true);
    await fireEvent.click(r.getByTestId('reminder-dont-show'));
    await fireEvent.click(r.getByTestId('reminder-send'));
    await vi.waitFor(() => expect(api.commands.voiceSend).toHaveBeenCalled());
    expect(api.commands.turnOffMediaReminder).toHaveBeenCalledWith('c');
  });

  it('turns release-to-send into a preview and the reminder', async () => {
    const r = render(Composer, {
      onSend: () => {},
      onTyping: () => {},
      conversationId: 'c',
      mediaReminder: { show: true, can_turn_off: false },
    });
    await vi.waitFor(() => expect(api.commands.voiceDrafts).toHaveBeenCalledWith('c'));
    api.commands.voiceSend.mockClear();
    const mic = r.getByTestId('record');
    await touch('pointerDown', mic, 300, 600);
    await emit({ type: 'level', level: 0.4, elapsed_ms: 2000 });
    await touch('pointerUp', mic, 300, 600);
    await vi.waitFor(() => expect(r.getByTestId('media-reminder')).toBeTruthy());
    expect(r.getByTestId('voice-preview')).toBeTruthy();
    expect(api.commands.voiceSend).not.toHaveBeenCalled();
  });

  it('has no way to turn it off under 18, and Escape goes back to the preview', async () => {
    const r = await reminded(false);
    expect(r.queryByTestId('reminder-dont-show')).toBeNull();
    await fireEvent.keyDown(window, { key: 'Escape' });
    await tick();
    expect(r.queryByTestId('media-reminder')).toBeNull();
    expect(r.getByTestId('voice-preview')).toBeTruthy();
    expect(api.commands.voiceSend).not.toHaveBeenCalled();
  });
});

describe('recording (touch)', () => {
  it('records while held and sends on release', async () => {
    const { getByTestId, onVoiceSent } = await composer();
    const mic = getByTestId('record');
    await touch('pointerDown', mic, 300, 600);
    expect(api.commands.voiceStart).toHaveBeenCalledWith('c');
    await tick();
    expect(getByTestId('recording').textContent).toContain('Slide to cancel');
    await emit({ type: 'level', level: 0.4, elapsed_ms: 2000 });
    await touch('pointerUp', mic, 300, 600);
    await vi.waitFor(() => expect(api.commands.voiceSend).toHaveBeenCalledWith('c', 'd1', api.draft.waveform));
    expect(api.commands.voiceStop.mock.invocationCallOrder[0]).toBeLessThan(
      api.commands.voiceSend.mock.invocationCallOrder[0],
    );
    await vi.waitFor(() => expect(onVoiceSent).toHaveBeenCalled());
    await fireEvent.click(mic); // the click a touch leaves behind starts nothing
    expect(api.commands.voiceStart).toHaveBeenCalledTimes(1);
  });

  it('cancels when the finger slides left past the threshold', async () => {
    const { getByTestId, queryByTestId } = await composer();
    const mic = getByTestId('record');
    await touch('pointerDown', mic, 300, 600);
    await tick();
    await emit({ type: 'level', level: 0.4, elapsed_ms: 2000 });
    await touch('pointerMove', mic, 250, 600);
    expect(api.commands.voiceCancel).not.toHaveBeenCalled();
    await touch('pointerMove', mic, 210, 600);
    expect(api.commands.voiceCancel).toHaveBeenCalled();
    await touch('pointerUp', mic, 210, 600);
    await tick();
    expect(api.commands.voiceStop).not.toHaveBeenCalled();
    expect(api.commands.voiceSend).not.toHaveBeenCalled();
    expect(queryByTestId('recording')).toBeNull();
  });

  it('locks when the finger slides up, then records hands-free', async () => {
    const { getByTestId } = await composer();
    const mic = getByTestId('record');
    await touch('pointerDown', mic, 300, 600);
    await tick();
    await touch('pointerMove', mic, 300, 520);
    await tick();
    await touch('pointerUp', mic, 300, 520);
    await tick();
    expect(getByTestId('record-stop')).toBeTruthy();
    expect(getByTestId('record-cancel')).toBeTruthy();
    expect(api.commands.voiceStop).not.toHaveBeenCalled();
    expect(api.commands.voiceSend).not.toHaveBeenCalled();
  });

  it('keeps what was recorded to preview when the system takes the touch away', async () => {
    const { getByTestId } = await composer();
    const mic = getByTestId('record');
    await touch('pointerDown', mic, 300, 600);
    await tick();
    await emit({ type: 'level', level: 0.4, elapsed_ms: 2000 });
    await fireEvent.pointerCancel(mic, { pointerId: 7, pointerType: 'touch' });
    await vi.waitFor(() => expect(getByTestId('voice-preview')).toBeTruthy());
    expect(api.commands.voiceSend).not.toHaveBeenCalled();
  });

  it('leaves a mouse press to the click (hands-free recording)', async () => {
    const { getByTestId } = await composer();
    await fireEvent.pointerDown(getByTestId('record'), { pointerId: 1, pointerType: 'mouse' });
    await fireEvent.pointerUp(getByTestId('record'), { pointerId: 1, pointerType: 'mouse' });
    expect(api.commands.voiceStart).not.toHaveBeenCalled();
  });

  it('takes a quick tap for a slip: nothing is sent, and it says how to record', async () => {
    const { getByTestId, getByRole } = await composer();
    const mic = getByTestId('record');
    await touch('pointerDown', mic, 300, 600);
    await tick();
    await touch('pointerUp', mic, 300, 600);
    await vi.waitFor(() => expect(getByRole('status').textContent).toContain('Hold to record'));
    expect(api.commands.voiceSend).not.toHaveBeenCalled();
  });
});
