import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render } from '@testing-library/svelte';
import type { MediaItemView, MessageView } from '../lib/bindings';
import { installFakeMedia } from '../lib/fake-media';

// The edge of what a unit test can have: the Tauri bridge and the system dialogs.
const api = vi.hoisted(() => {
  const ok = (data: unknown) => Promise.resolve({ status: 'ok', data });
  return {
    ok,
    save: vi.fn<(o: unknown) => Promise<string | null>>(async () => null),
    open: vi.fn<(o: unknown) => Promise<unknown>>(async () => null),
    commands: {
      mediaRetry: vi.fn<(id: string) => Promise<unknown>>(() => ok(null)),
      mediaRemoveItem: vi.fn<(id: string, media: string) => Promise<unknown>>(() => ok(null)),
      mediaSave: vi.fn<(media: string, path: string) => Promise<unknown>>(() => ok(null)),
      mediaSaveAll: vi.fn<(id: string, dir: string) => Promise<unknown>>(() => ok(9)),
    },
  };
});
vi.mock('../lib/bindings', () => ({
  commands: api.commands,
  events: { natterEvent: { listen: async () => () => {} }, voiceEvent: { listen: async () => () => {} } },
}));
vi.mock('@tauri-apps/plugin-dialog', () => ({ open: api.open, save: api.save }));

const { default: MessageBubble } = await import('./MessageBubble.svelte');
const { default: MediaViewer } = await import('./MediaViewer.svelte');
installFakeMedia();

afterEach(() => {
  cleanup();
  vi.clearAllMocks();
});

const HASH = 'LEHV6nWB2yk8pyo0adR*.7kCMdnj';

function item(n: number, extra: Partial<MediaItemView> = {}): MediaItemView {
  return {
    media_id: `p${n}`,
    thumbnail_id: `t${n}`,
    kind: 'image',
    mime: 'image/jpeg',
    width: n % 2 ? 4000 : 3000,
    height: n % 2 ? 3000 : 4000,
    size: 1000,
    duration_ms: 0,
    blurhash: HASH,
    uploaded_bytes: null,
    error: null,
    display: 'show',
    ...extra,
  };
}

function album(count: number, extra: Partial<MessageView> = {}): MessageView {
  return {
    id: 'm1',
    conversation_id: 'c',
    seq: 4,
    sort_key: 4,
    sender_id: 'b',
    sender: 'bob',
    text: '',
    sent_at: new Date(2025, 5, 1, 14, 5).getTime(),
    mine: false,
    status: 'received',
    error: null,
    held_until: null,
    blocked_sender: false,
    event: null,
    voice: null,
    media: Array.from({ length: count }, (_, i) => item(i + 1)),
    ...extra,
  };
}

describe('an album in the chat', () => {
  it('lays out 1 to 9 items, each with its blurhash at once and its thumbnail loading lazily', () => {
    for (let n = 1; n <= 9; n++) {
      const r = render(MessageBubble, { message: album(n), showSender: false });
      const cells = r.getAllByTestId('album-item');
      expect(cells).toHaveLength(n);
      for (const [i, cell] of cells.entries()) {
        const [blur, thumb] = cell.querySelectorAll('img');
        expect(blur.getAttribute('src')).toMatch(/^data:image\/bmp;base64,/);
        expect(thumb.getAttribute('src')).toBe(`natter-media://localhost/t${i + 1}`);
        expect(thumb.getAttribute('loading')).toBe('lazy');
        // Placed inside the album, in percent.
        expect(parseFloat(cell.style.left) + parseFloat(cell.style.width)).toBeLessThanOrEqual(100.0001);
      }
      r.unmount();
    }
  });

  it('marks videos with ▶ and their length, and names every item for screen readers', () => {
    const message = album(2);
    message.media[1] = item(2, { kind: 'video', mime: 'video/mp4', duration_ms: 12_400 });
    const r = render(MessageBubble, { message, showSender: true });
    const [photo, video] = r.getAllByTestId('album-item');
    expect(photo.dataset.kind).toBe('image');
    expect(video.textContent).toContain('▶ 0:12');
    expect(r.getByLabelText('Open Video 2 of 2, 0:12 from bob')).toBeTruthy();
    expect(r.getByLabelText('Open Photo 1 of 2 from bob')).toBeTruthy();
  });

  it('marks animated GIFs with a badge over their still thumbnail, and names them', () => {
    const message = album(3);
    message.media[0] = item(1, { mime: 'image/gif' });
    message.media[2] = item(3, { kind: 'video', mime: 'video/mp4', duration_ms: 3000 });
    const r = render(MessageBubble, { message, showSender: false });
    const [gif, photo, video] = r.getAllByTestId('album-item');
    expect(gif.querySelector('[data-testid="gif-badge"]')?.textContent).toBe('GIF');
    expect(gif.querySelectorAll('img')[1].getAttribute('src')).toBe('natter-media://localhost/t1');
    expect(r.getByLabelText('Open GIF 1 of 3 from bob')).toBeTruthy();
    // Photos and videos carry no GIF badge; videos keep theirs.
    expect(photo.querySelector('[data-testid="gif-badge"]')).toBeNull();
    expect(video.querySelector('[data-testid="gif-badge"]')).toBeNull();
    expect(video.textContent).toContain('▶ 0:03');
    expect(r.getAllByTestId('gif-badge')).toHaveLength(1);
  });

  it('renders a caption with markup as text', () => {
    const evil = '<img src=x onerror="window.pwned=1"><b>bold</b>';
    const r = render(MessageBubble, { message: album(3, { text: evil }), showSender: false });
    expect(r.getByTestId('album-caption').textContent).toBe(evil);
    expect(r.container.querySelector('img[onerror], img[src="x"], b')).toBeNull();
    expect((window as unknown as { pwned?: number }).pwned).toBeUndefined();
  });

  it('keeps the ticks and the time of own messages', () => {
    const r = render(MessageBubble, { message: album(2, { mine: true, status: 'read' }), showSender: false });
    expect(r.getByLabelText('Read')).toBeTruthy();
    expect(r.container.querySelector('time')).toBeTruthy();
  });

  it('opens the viewer on the item clicked', async () => {
    const onOpenMedia = vi.fn();
    const r = render(MessageBubble, { message: album(4), showSender: false, onOpenMedia });
    await fireEvent.click(r.getAllByTestId('album-open')[2]);
    expect(onOpenMedia).toHaveBeenCalledWith('m1', 2);
  });

  it('shows how far each own item got while sending, live events first', () => {
    const message = album(3, { mine: true, status: 'sending' });
    message.media[0] = item(1, { uploaded_bytes: 250 });
    message.media[1] = item(2, { uploaded_bytes: 0 });
    // The third has gone out already.
    const r = render(MessageBubble, { message, showSender: false, mediaUploads: { p2: { sent: 600, total: 1000 } } });
    const rings = r.getAllByTestId('upload-ring');
    expect(rings.map((e) => e.getAttribute('aria-valuenow'))).toEqual(['25', '60']);
    expect(r.getAllByTestId('album-item').map((e) => e.dataset.state)).toEqual(['uploading', 'uploading', 'ready']);
  });

  it('offers Retry and Remove on an item the server refused, and calls the core', async () => {
    const message = album(3, { mine: true, status: 'failed', error: 'refused' });
    message.media[1] = item(2, { error: 'the file is too large (media_too_large)' });
    const r = render(MessageBubble, { message, showSender: false });
    const cells = r.getAllByTestId('album-item');
    expect(cells[1].dataset.state).toBe('failed');
    expect(r.getAllByTestId('item-failed')).toHaveLength(1);
    expect(r.getByText('Photo 2 of 3 not sent: the file is too large (media_too_large)')).toBeTruthy();
    await fireEvent.click(r.getByTestId('item-retry'));
    expect(api.commands.mediaRetry).toHaveBeenCalledWith('m1');
    await vi.waitFor(() => expect((r.getByTestId('item-remove') as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(r.getByTestId('item-remove'));
    expect(api.commands.mediaRemoveItem).toHaveBeenCalledWith('m1', 'p2');
  });

  it('retries a whole album that failed, and says when the core cannot', async () => {
    api.commands.mediaRetry.mockImplementationOnce(() =>
      Promise.resolve({ status: 'error', error: { code: 'internal', message: 'the outbox is closed' } }),
    );
    const r = render(MessageBubble, { message: album(2, { mine: true, status: 'failed', error: 'offline too long' }), showSender: false });
    await fireEvent.click(r.getByTestId('album-retry'));
    expect(api.commands.mediaRetry).toHaveBeenCalledWith('m1');
    await vi.waitFor(() => expect(r.getByText('the outbox is closed')).toBeTruthy());
  });
});

describe('the viewer', () => {
  function viewer(message: MessageView, index: number) {
    const onClose = vi.fn();
    const r = render(MediaViewer, { message, index, onClose });
    return { ...r, onClose, dialog: r.getByTestId('media-viewer') };
  }

  it('opens on the item, moves with ← and →, stops at the ends, and Escape closes', async () => {
    const v = viewer(album(9), 2);
    const counter = () => v.getByTestId('viewer-counter').textContent;
    expect(counter()).toBe('3 / 9');
    await fireEvent.keyDown(v.dialog, { key: 'ArrowRight' });
    expect(counter()).toBe('4 / 9');
    expect(v.getByTestId('viewer-image').getAttribute('src')).toBe('natter-media://localhost/p4');
    await fireEvent.keyDown(v.dialog, { key: 'ArrowLeft' });
    await fireEvent.keyDown(v.dialog, { key: 'ArrowLeft' });
    await fireEvent.keyDown(v.dialog, { key: 'ArrowLeft' });
    await fireEvent.keyDown(v.dialog, { key: 'ArrowLeft' });
    expect(counter()).toBe('1 / 9');
    expect((v.getByTestId('viewer-prev') as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.keyDown(v.dialog, { key: 'End' });
    expect(counter()).toBe('9 / 9');
    await fireEvent.click(v.getByTestId('viewer-prev'));
    expect(counter()).toBe('8 / 9');
    expect(v.onClose).not.toHaveBeenCalled();
    await fireEvent.keyDown(v.dialog, { key: 'Escape' });
    expect(v.onClose).toHaveBeenCalled();
  });

  it('is a modal dialog with focus inside, and Tab stays there', async () => {
    const v = viewer(album(3), 0);
    expect(v.dialog.getAttribute('aria-modal')).toBe('true');
    expect(v.dialog.getAttribute('aria-label')).toBe('Photos and videos from bob');
    await vi.waitFor(() => expect(document.activeElement).toBe(v.dialog));
    const last = v.getByTestId('viewer-next');
    last.focus();
    await fireEvent.keyDown(last, { key: 'Tab' });
    expect(document.activeElement).toBe(v.getByTestId('viewer-close'));
  });

  it('shows the thumbnail until the full photo has loaded', async () => {
    const v = viewer(album(1), 0);
    const full = v.getByTestId('viewer-image');
    expect(full.classList.contains('loaded')).toBe(false);
    expect(v.dialog.querySelector('img[src="natter-media://localhost/t1"]')).toBeTruthy();
    await fireEvent.load(full);
    expect(full.classList.contains('loaded')).toBe(true);
    // The stills go once the full picture is there (it may be transparent).
    expect(v.dialog.querySelector('img[src="natter-media://localhost/t1"]')).toBeNull();
    expect(v.queryByTestId('save-all')).toBeNull(); // one item: Save is enough
  });

  it('plays a GIF: the full file, not its still thumbnail', async () => {
    const message = album(2);
    message.media[1] = item(2, { mime: 'image/gif' });
    const v = viewer(message, 1);
    const gif = v.getByTestId('viewer-image');
    expect(gif.getAttribute('src')).toBe('natter-media://localhost/p2');
    expect(gif.getAttribute('alt')).toBe('GIF 2 of 2');
    await fireEvent.load(gif);
    expect([...v.dialog.querySelectorAll('.picture img')].map((i) => i.getAttribute('src'))).toEqual(['natter-media://localhost/p2']);
    // Saved as what it is.
    api.save.mockResolvedValueOnce(null);
    await fireEvent.click(v.getByTestId('save-one'));
    await vi.waitFor(() => expect(api.save).toHaveBeenCalledWith({ defaultPath: 'Natter 2025-06-01 140500 (2).gif' }));
  });

  it('plays videos inline with controls', () => {
    const message = album(2);
    message.media[1] = item(2, { kind: 'video', mime: 'video/mp4', duration_ms: 5000 });
    const v = viewer(message, 1);
    const video = v.getByTestId('viewer-video') as HTMLVideoElement;
    expect(video.controls).toBe(true);
    expect(video.getAttribute('src')).toBe('natter-media://localhost/p2');
    expect(video.getAttribute('poster')).toBe('natter-media://localhost/t2');
  });

  it('moves on a swipe, not on a tap or a vertical drag', async () => {
    const v = viewer(album(3), 1);
    const stage = v.getByTestId('viewer-image').closest('.stage')!;
    await fireEvent.pointerDown(stage, { pointerId: 1, clientX: 300, clientY: 200 });
    await fireEvent.pointerUp(stage, { pointerId: 1, clientX: 290, clientY: 200 });
    expect(v.getByTestId('viewer-counter').textContent).toBe('2 / 3');
    await fireEvent.pointerDown(stage, { pointerId: 1, clientX: 300, clientY: 200 });
    await fireEvent.pointerUp(stage, { pointerId: 1, clientX: 280, clientY: 400 });
    expect(v.getByTestId('viewer-counter').textContent).toBe('2 / 3');
    await fireEvent.pointerDown(stage, { pointerId: 1, clientX: 300, clientY: 200 });
    await fireEvent.pointerUp(stage, { pointerId: 1, clientX: 100, clientY: 220 });
    expect(v.getByTestId('viewer-counter').textContent).toBe('3 / 3');
    await fireEvent.pointerDown(stage, { pointerId: 1, clientX: 100, clientY: 200 });
    await fireEvent.pointerUp(stage, { pointerId: 1, clientX: 300, clientY: 200 });
    expect(v.getByTestId('viewer-counter').textContent).toBe('2 / 3');
  });

  it('saves one item where the user chooses, and all of them into a folder', async () => {
    const v = viewer(album(9), 1);
    api.save.mockResolvedValueOnce('/home/me/Pictures/beach.jpg');
    await fireEvent.click(v.getByTestId('save-one'));
    await vi.waitFor(() => expect(api.commands.mediaSave).toHaveBeenCalledWith('p2', '/home/me/Pictures/beach.jpg'));
    expect(api.save).toHaveBeenCalledWith({ defaultPath: 'Natter 2025-06-01 140500 (2).jpg' });
    await vi.waitFor(() => expect(v.getByTestId('viewer-toast').textContent).toBe('Saved the photo'));

    api.open.mockResolvedValueOnce('/home/me/Pictures');
    await fireEvent.click(v.getByTestId('save-all'));
    await vi.waitFor(() => expect(api.commands.mediaSaveAll).toHaveBeenCalledWith('m1', '/home/me/Pictures'));
    expect(api.open).toHaveBeenCalledWith({ directory: true, multiple: false });
    await vi.waitFor(() => expect(v.getByTestId('viewer-toast').textContent).toBe('Saved 9 files to Pictures'));
  });

  it('saves nothing when the dialog is cancelled', async () => {
    const v = viewer(album(2), 0);
    await fireEvent.click(v.getByTestId('save-one'));
    await fireEvent.click(v.getByTestId('save-all'));
    await vi.waitFor(() => expect(api.open).toHaveBeenCalled());
    expect(api.commands.mediaSave).not.toHaveBeenCalled();
    expect(api.commands.mediaSaveAll).not.toHaveBeenCalled();
    expect(v.queryByTestId('viewer-toast')).toBeNull();
  });

  it('shows the caption as text', () => {
    const evil = '<img src=x onerror="window.pwned=1">';
    const v = viewer(album(2, { text: evil }), 0);
    expect(v.dialog.textContent).toContain(evil);
    expect(v.dialog.querySelector('img[onerror]')).toBeNull();
  });
});
