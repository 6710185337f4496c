import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render } from '@testing-library/svelte';
import { tick } from 'svelte';
import type { CoreEvent, MessageView, StageResult } from '../lib/bindings';
import { installFakeMedia } from '../lib/fake-media';

// The edge of what a unit test can have: the Tauri bridge, the dialogs and the window's
// drag-and-drop. The composer, its album and the editor are real.
const api = vi.hoisted(() => {
  const ok = (data: unknown) => Promise.resolve({ status: 'ok', data });
  const staged = (name: string) => ({
    id: `s-${name}`,
    name,
    kind: name.endsWith('.mp4') ? 'video' : 'image',
    width: 400,
    height: 300,
    duration_ms: name.endsWith('.mp4') ? 12_000 : 0,
    size: 1000,
    blurhash: '',
    placeholder: false,
    // What the nudity classifier found (an adult may send it; it goes out blurred).
    explicit: name.startsWith('flagged'),
  });
  const result = (path: string) => {
    const name = path.split('/').pop()!;
    if (name.startsWith('teen')) {
      const message = "this photo looks like it contains nudity, which can't be sent before you are 18";
      return { name, item: null, error: { code: 'explicit_image_blocked', message } };
    }
    return name.startsWith('bad')
      ? { name, item: null, error: { code: 'bad_request', message: `${name} is not a photo or video` } }
      : { name, item: staged(name), error: null };
  };
  const events: Array<(e: { payload: unknown }) => void> = [];
  const drops: Array<(e: { payload: unknown }) => void> = [];
  const open = vi.fn<(o: unknown) => Promise<unknown>>(async () => null);
  return {
    ok,
    result,
    events,
    drops,
    open,
    commands: {
      voiceDrafts: vi.fn(() => ok([])),
      // The app's picker command; tests decide what the user picks through `open`.
      mediaPick: vi.fn(async () => ok(((await open(undefined)) as string[] | null) ?? [])),
      mediaStage: vi.fn<(c: string, paths: string[], hd: boolean) => Promise<unknown>>((_, paths) => ok(paths.map(result))),
      mediaStageBytes: vi.fn<(c: string, name: string, b64: string, hd: boolean) => Promise<unknown>>((_, name) =>
        ok(result(name)),
      ),
      mediaUnstage: vi.fn<(id: string) => Promise<unknown>>(() => ok(null)),
      sendAlbum: vi.fn<(c: string, items: unknown, caption: string, hd: boolean) => Promise<unknown>>((c, _, caption) =>
        ok({ id: 'm1', conversation_id: c, text: caption, mine: true, status: 'sending', media: [] }),
      ),
      turnOffMediaReminder: vi.fn<(c: string) => Promise<unknown>>(() => ok(null)),
      // What the Rust side says this device is (a phone takes photos with the system camera).
      platformInfo: vi.fn(async () => platform.info),
    },
  };
});
const platform = vi.hoisted(() => ({
  info: { platform: 'desktop', system_camera_accept: null as string | null, ask_microphone_in_web_view: false },
}));
vi.mock('../lib/bindings', () => ({
  commands: api.commands,
  events: {
    natterEvent: {
      listen: async (cb: (e: { payload: unknown }) => void) => {
        api.events.push(cb);
        return () => {};
      },
    },
    voiceEvent: { listen: async () => () => {} },
  },
  TEXT_MAX_CHARS: 4000,
  VOICE_MAX_MS: 60000,
}));
vi.mock('@tauri-apps/plugin-dialog', () => ({ open: api.open, save: vi.fn() }));
vi.mock('@tauri-apps/api/webview', () => ({
  getCurrentWebview: () => ({
    onDragDropEvent: async (cb: (e: { payload: unknown }) => void) => {
      api.drops.push(cb);
      return () => api.drops.splice(api.drops.indexOf(cb), 1);
    },
  }),
}));

const { default: Composer } = await import('./Composer.svelte');
const { forgetAlbumDrafts, LIMIT_MESSAGE } = await import('../lib/album-draft.svelte');
const { resetPlatformInfo } = await import('../lib/platform');
installFakeMedia();

type Props = Partial<{
  mediaBlocked: string | null;
  mediaReminder: { show: boolean; can_turn_off: boolean };
  audience: string;
}>;

async function composer(props: Props = {}) {
  const onAlbumSent = vi.fn<(m: MessageView) => void>();
  const r = render(Composer, { onSend: () => {}, onTyping: () => {}, conversationId: 'c', onAlbumSent, ...props });
  await vi.waitFor(() => expect(api.commands.voiceDrafts).toHaveBeenCalled());
  await tick();
  return { ...r, onAlbumSent };
}

/** Picks files in the (mocked) system dialog. */
async function pick(r: Awaited<ReturnType<typeof composer>>, paths: string[]) {
  api.open.mockResolvedValueOnce(paths);
  const asked = api.open.mock.calls.length;
  await fireEvent.click(r.getByTestId('attach'));
  // The picker answered and what it gave reached the tray.
  await vi.waitFor(() => expect(api.open.mock.calls.length).toBe(asked + 1));
  await new Promise((resolve) => setTimeout(resolve, 0));
  await tick();
  await vi.waitFor(() => expect(r.queryAllByTestId('tray-item').filter((i) => i.dataset.state === 'preparing')).toHaveLength(0));
  await tick();
}

const files = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `/home/me/Pictures/p${from + i}.jpg`);

beforeEach(() => {
  forgetAlbumDrafts();
});

afterEach(() => {
  cleanup();
  vi.clearAllMocks();
});

describe('attaching photos and videos', () => {
  it('opens the picker for photos and videos and shows what was picked in the tray, in order', async () => {
    const r = await composer();
    expect(r.queryByTestId('album-tray')).toBeNull();
    await pick(r, ['/a/one.jpg', '/a/two.mp4']);
    expect(api.commands.mediaPick).toHaveBeenCalledTimes(1);
    expect(api.commands.mediaStage).toHaveBeenCalledWith('c', ['/a/one.jpg', '/a/two.mp4'], false);
    const items = r.getAllByTestId('tray-item');
    expect(items.map((i) => i.title)).toEqual(['one.jpg', 'two.mp4']);
    expect(items[1].textContent).toContain('0:12');
    // The caption takes the message field's place; the album's send button the mic's.
    expect(r.getByTestId('caption')).toBeTruthy();
    expect(r.queryByTestId('composer')).toBeNull();
    expect(r.getByTestId('send-album').getAttribute('aria-label')).toBe('Send 1 photo and 1 video');
  });

  it('takes at most 9 and says so when more are picked', async () => {
    const r = await composer();
    await pick(r, files(12));
    expect(r.getAllByTestId('tray-item')).toHaveLength(9);
    expect(api.commands.mediaStage).toHaveBeenCalledWith('c', files(9), false);
    expect(r.getByTestId('album-limit').textContent).toBe('You can send up to 9 photos and videos at once');
    expect(LIMIT_MESSAGE).toBe('You can send up to 9 photos and videos at once');

    // Room for one more after removing one; the second of two picked is refused again.
    await fireEvent.click(r.getAllByTestId('remove-item')[0]);
    expect(r.queryByTestId('album-limit')).toBeNull();
    await pick(r, files(2, 20));
    expect(api.commands.mediaStage).toHaveBeenLastCalledWith('c', files(1, 20), false);
    expect(r.getAllByTestId('tray-item')).toHaveLength(9);
    expect(r.getByTestId('album-limit')).toBeTruthy();
  });

  it('removes an item from the tray, and the core forgets it', async () => {
    const r = await composer();
    await pick(r, ['/a/one.jpg', '/a/two.jpg']);
    await fireEvent.click(r.getByLabelText('Remove one.jpg'));
    expect(api.commands.mediaUnstage).toHaveBeenCalledWith('s-one.jpg');
    expect(r.getAllByTestId('tray-item').map((i) => i.title)).toEqual(['two.jpg']);
    await fireEvent.click(r.getByLabelText('Remove two.jpg'));
    expect(r.queryByTestId('album-tray')).toBeNull();
    expect(r.getByTestId('composer')).toBeTruthy();
  });

  it('marks a photo the nudity filter flagged, and says what that means for the recipients', async () => {
    const r = await composer();
    await pick(r, ['/a/flagged.jpg', '/a/ok.jpg']);
    const [flagged, ok] = r.getAllByTestId('tray-item');
    expect(flagged.dataset.explicit).toBe('true');
    expect(flagged.querySelector('[aria-label="May contain nudity"]')).toBeTruthy();
    expect(ok.dataset.explicit).toBeUndefined();
    expect(r.getByTestId('explicit-note').textContent).toContain('blurred');
    await fireEvent.click(r.getByLabelText('Remove flagged.jpg'));
    expect(r.queryByTestId('explicit-note')).toBeNull();
  });

  it('says in full why a photo was refused under 18', async () => {
    const r = await composer();
    await pick(r, ['/a/teen.jpg']);
    expect(r.getByTestId('tray-item').dataset.state).toBe('error');
    expect(r.getByTestId('tray-refused').textContent).toBe(
      "teen.jpg: this photo looks like it contains nudity, which can't be sent before you are 18",
    );
    expect((r.getByTestId('send-album') as HTMLButtonElement).disabled).toBe(true);
  });

  it('shows why a file was refused, and does not send it', async () => {
    const r = await composer();
    await pick(r, ['/a/bad.txt', '/a/ok.jpg']);
    const [bad, good] = r.getAllByTestId('tray-item');
    expect(bad.dataset.state).toBe('error');
    expect(bad.textContent).toContain('bad.txt is not a photo or video');
    expect(good.dataset.state).toBe('ready');
    await fireEvent.click(r.getByTestId('send-album'));
    await vi.waitFor(() => expect(api.commands.sendAlbum).toHaveBeenCalled());
    expect(api.commands.sendAlbum.mock.calls[0][1]).toEqual([
      { staged_id: 's-ok.jpg', edits: { rotate: 0, flip: false, crop: null, texts: [] }, video: null },
    ]);
  });

  it('shows the core\'s progress while it prepares files', async () => {
    let finish: (v: { status: 'ok'; data: StageResult[] }) => void = () => {};
    api.commands.mediaStage.mockImplementationOnce(() => new Promise((resolve) => (finish = resolve)));
    const r = await composer();
    api.open.mockResolvedValueOnce(files(7));
    await fireEvent.click(r.getByTestId('attach'));
    await vi.waitFor(() => expect(r.getAllByTestId('tray-item')).toHaveLength(7));
    expect(r.getAllByLabelText(/^Preparing p\d\.jpg$/)).toHaveLength(7);
    for (const l of api.events) l({ payload: { type: 'staged', conversation_id: 'c', done: 3, total: 7 } satisfies CoreEvent });
    await tick();
    expect(r.getByTestId('album-progress').textContent).toBe('Preparing 3 of 7…');
    expect((r.getByTestId('send-album') as HTMLButtonElement).disabled).toBe(true);
    finish({ status: 'ok', data: files(7).map(api.result) as StageResult[] });
    await vi.waitFor(() => expect(r.queryByTestId('album-progress')).toBeNull());
    expect((r.getByTestId('send-album') as HTMLButtonElement).disabled).toBe(false);
  });

  it('adds files dropped on the window and images pasted into the composer', async () => {
    const r = await composer();
    await vi.waitFor(() => expect(api.drops).toHaveLength(1));
    api.drops[0]({ payload: { type: 'enter', paths: ['/d/x.jpg'], position: { x: 1, y: 1 } } });
    await tick();
    expect(r.getByTestId('drop-zone')).toBeTruthy();
    api.drops[0]({ payload: { type: 'drop', paths: ['/d/x.jpg'], position: { x: 1, y: 1 } } });
    await vi.waitFor(() => expect(api.commands.mediaStage).toHaveBeenCalledWith('c', ['/d/x.jpg'], false));
    await tick();
    expect(r.queryByTestId('drop-zone')).toBeNull();

    const image = new File(['PNGDATA'], 'shot.png', { type: 'image/png' });
    const clipboardData = { items: [{ kind: 'file', type: 'image/png', getAsFile: () => image }] };
    await fireEvent.paste(r.getByTestId('caption'), { clipboardData });
    await vi.waitFor(() => expect(api.commands.mediaStageBytes).toHaveBeenCalledWith('c', 'shot.png', btoa('PNGDATA'), false));
    await vi.waitFor(() => expect(r.getAllByTestId('tray-item')).toHaveLength(2));
  });

  it('says why when the core cannot prepare anything, and keeps the message field', async () => {
    api.commands.mediaStage.mockImplementationOnce(() =>
      Promise.resolve({ status: 'error', error: { code: 'internal', message: 'the disk is full' } }),
    );
    const r = await composer();
    api.open.mockResolvedValueOnce(['/a/one.jpg']);
    await fireEvent.click(r.getByTestId('attach'));
    await vi.waitFor(() => expect(r.getByTestId('album-error').textContent).toBe('the disk is full'));
    expect(r.queryByTestId('album-tray')).toBeNull();
    expect(r.getByTestId('composer')).toBeTruthy();
  });

  it('explains instead of opening anything where media is not allowed yet', async () => {
    const why = 'a photo, video or voice note cannot be the first message: say hello in text first';
    const r = await composer({ mediaBlocked: why });
    expect(r.getByTestId('attach').getAttribute('aria-disabled')).toBe('true');
    await fireEvent.click(r.getByTestId('attach'));
    expect(api.open).not.toHaveBeenCalled();
    expect(r.getByRole('status').textContent).toContain('say hello in text first');
    await fireEvent.click(r.getByTestId('camera'));
    expect(r.queryByTestId('camera-sheet')).toBeNull();
  });

  it('takes photos with the system camera on a phone, and they join the album', async () => {
    platform.info = { platform: 'ios', system_camera_accept: 'image/*,video/*', ask_microphone_in_web_view: false };
    resetPlatformInfo();
    const click = vi.spyOn(HTMLInputElement.prototype, 'click').mockImplementation(function (this: HTMLInputElement) {
      Object.defineProperty(this, 'files', { value: [new File(['jpeg'], 'IMG_0001.jpg', { type: 'image/jpeg' })] });
      this.dispatchEvent(new Event('change'));
    });
    try {
      const r = await composer();
      await vi.waitFor(() => expect(api.commands.platformInfo).toHaveBeenCalled());
      await new Promise((resolve) => setTimeout(resolve, 0));
      await fireEvent.click(r.getByTestId('camera'));
      expect(r.queryByTestId('camera-sheet')).toBeNull();
      expect((click.mock.contexts[0] as HTMLInputElement).accept).toBe('image/*,video/*');
      await vi.waitFor(() =>
        expect(api.commands.mediaStageBytes).toHaveBeenCalledWith('c', 'IMG_0001.jpg', btoa('jpeg'), expect.any(Boolean)),
      );
      await vi.waitFor(() => expect(r.getAllByTestId('tray-item')).toHaveLength(1));
    } finally {
      click.mockRestore();
      platform.info = { platform: 'desktop', system_camera_accept: null, ask_microphone_in_web_view: false };
      resetPlatformInfo();
    }
  });

  it('says plainly when there is no camera', async () => {
    const r = await composer();
    await fireEvent.click(r.getByTestId('camera'));
    await vi.waitFor(() => expect(r.getByTestId('camera-error').textContent).toContain('No camera available'));
    await fireEvent.click(r.getByTestId('camera-close'));
    expect(r.queryByTestId('camera-sheet')).toBeNull();
  });
});

describe('the caption', () => {
  it('counts near the limit and refuses to send over 1000 characters', async () => {
    const r = await composer();
    await pick(r, ['/a/one.jpg']);
    const caption = r.getByTestId('caption') as HTMLTextAreaElement;
    await fireEvent.input(caption, { target: { value: 'x'.repeat(899) } });
    expect(r.queryByTestId('caption-count')).toBeNull();
    await fireEvent.input(caption, { target: { value: 'x'.repeat(950) } });
    expect(r.getByTestId('caption-count').textContent?.trim()).toBe('950 / 1000');
    await fireEvent.input(caption, { target: { value: '😀'.repeat(1001) } });
    expect(r.getByTestId('caption-count').textContent).toContain('1001 / 1000');
    expect(r.getByTestId('caption-count').getAttribute('role')).toBe('alert');
    expect((r.getByTestId('send-album') as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.keyDown(caption, { key: 'Enter' });
    expect(api.commands.sendAlbum).not.toHaveBeenCalled();
  });
});

describe('sending an album', () => {
  it('asks first when reminded, then sends the items in order with their edits, caption and HD', async () => {
    const r = await composer({ mediaReminder: { show: true, can_turn_off: true }, audience: 'bob' });
    await pick(r, ['/a/one.jpg', '/a/two.mp4']);
    // Turn and mirror the photo in the editor.
    await fireEvent.click(r.getAllByTestId('edit-item')[0]);
    expect(r.getByTestId('media-editor')).toBeTruthy();
    await fireEvent.click(r.getByTestId('rotate'));
    await fireEvent.click(r.getByTestId('flip'));
    await fireEvent.click(r.getByTestId('editor-done'));
    expect(r.queryByTestId('media-editor')).toBeNull();
    // Mute the video.
    await fireEvent.click(r.getAllByTestId('edit-item')[1]);
    await fireEvent.click(r.getByTestId('mute'));
    await fireEvent.click(r.getByTestId('editor-done'));
    await fireEvent.click(r.getByTestId('album-hd'));
    await fireEvent.input(r.getByTestId('caption'), { target: { value: 'At the <b>beach</b>' } });

    await fireEvent.click(r.getByTestId('send-album'));
    const dialog = r.getByTestId('media-reminder');
    expect(dialog.textContent).toContain('Before you send 1 photo and 1 video');
    expect(dialog.textContent).toContain('bob will be able to see them');
    expect(api.commands.sendAlbum).not.toHaveBeenCalled();
    await fireEvent.click(r.getByTestId('reminder-dont-show'));
    await fireEvent.click(r.getByTestId('reminder-send'));

    await vi.waitFor(() => expect(r.onAlbumSent).toHaveBeenCalled());
    expect(api.commands.turnOffMediaReminder).toHaveBeenCalledWith('c');
    expect(api.commands.sendAlbum).toHaveBeenCalledWith(
      'c',
      [
        { staged_id: 's-one.jpg', edits: { rotate: 1, flip: true, crop: null, texts: [] }, video: null },
        {
          staged_id: 's-two.mp4',
          edits: { rotate: 0, flip: false, crop: null, texts: [] },
          video: { trim_start_ms: null, trim_end_ms: null, mute: true },
        },
      ],
      'At the <b>beach</b>',
      true,
    );
    await tick();
    expect(r.queryByTestId('album-tray')).toBeNull();
    expect(r.getByTestId('composer')).toBeTruthy();
    // Sent, not thrown away: the core keeps the files it queued.
    expect(api.commands.mediaUnstage).not.toHaveBeenCalled();
  });

  it('"Not now" keeps the tray as it was', async () => {
    const r = await composer({ mediaReminder: { show: true, can_turn_off: false } });
    await pick(r, ['/a/one.jpg']);
    await fireEvent.click(r.getByTestId('send-album'));
    expect(r.getByTestId('media-reminder').textContent).toContain('Before you send this photo');
    expect(r.queryByTestId('reminder-dont-show')).toBeNull();
    await fireEvent.click(r.getByTestId('reminder-cancel'));
    expect(r.queryByTestId('media-reminder')).toBeNull();
    expect(api.commands.sendAlbum).not.toHaveBeenCalled();
    expect(r.getAllByTestId('tray-item')).toHaveLength(1);
  });

  it('sends at once without the reminder, and keeps the tray when the core refuses', async () => {
    api.commands.sendAlbum.mockImplementationOnce(() =>
      Promise.resolve({ status: 'error', error: { code: 'media_not_allowed_first_message', message: 'say hello first' } }),
    );
    const r = await composer();
    await pick(r, ['/a/one.jpg']);
    await fireEvent.click(r.getByTestId('send-album'));
    await vi.waitFor(() => expect(r.getByTestId('album-error').textContent).toBe('say hello first'));
    expect(r.getAllByTestId('tray-item')).toHaveLength(1);
    expect(r.onAlbumSent).not.toHaveBeenCalled();
  });

  it('keeps the tray when the chat closes and opens again', async () => {
    const first = await composer();
    await pick(first, ['/a/one.jpg']);
    first.unmount();
    const again = await composer();
    expect(again.getAllByTestId('tray-item').map((i) => i.title)).toEqual(['one.jpg']);
  });
});

describe('removing a file while it is prepared', () => {
  it('tells the core to forget it once it is ready', async () => {
    let finish: (v: { status: 'ok'; data: StageResult[] }) => void = () => {};
    api.commands.mediaStage.mockImplementationOnce(() => new Promise((resolve) => (finish = resolve)));
    const r = await composer();
    api.open.mockResolvedValueOnce(['/a/slow.jpg', '/a/kept.jpg']);
    await fireEvent.click(r.getByTestId('attach'));
    await vi.waitFor(() => expect(r.getAllByTestId('tray-item')).toHaveLength(2));
    await fireEvent.click(r.getByLabelText('Remove slow.jpg'));
    finish({ status: 'ok', data: ['/a/slow.jpg', '/a/kept.jpg'].map(api.result) as StageResult[] });
    await vi.waitFor(() => expect(api.commands.mediaUnstage).toHaveBeenCalledWith('s-slow.jpg'));
    expect(r.getAllByTestId('tray-item').map((i) => i.title)).toEqual(['kept.jpg']);
  });
});
