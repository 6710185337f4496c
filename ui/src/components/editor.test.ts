import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render } from '@testing-library/svelte';
import type { PhotoEdits, StagedMedia, VideoEdits } from '../lib/bindings';
import { installFakeMedia } from '../lib/fake-media';
import MediaEditor from './MediaEditor.svelte';

installFakeMedia();
afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const photo: StagedMedia = { id: 'p1', name: 'beach.jpg', kind: 'image', width: 400, height: 300, duration_ms: 0, size: 1, blurhash: '', placeholder: false, explicit: false };
const clip: StagedMedia = { id: 'v1', name: 'clip.mp4', kind: 'video', width: 1920, height: 1080, duration_ms: 10_000, size: 1, blurhash: '', placeholder: false, explicit: false };
const none = (): PhotoEdits => ({ rotate: 0, flip: false, crop: null, texts: [] });

function editor(item: StagedMedia, edits: PhotoEdits = none(), video: VideoEdits | null = null) {
  const onDone = vi.fn<(e: PhotoEdits, v: VideoEdits | null) => void>();
  const onCancel = vi.fn();
  const r = render(MediaEditor, { item, edits, video, onDone, onCancel });
  return { ...r, onDone, onCancel };
}

/** The crop layer as if it were laid out at 400×300 px on screen. */
function layOut(el: Element, width: number, height: number) {
  vi.spyOn(el, 'getBoundingClientRect').mockReturnValue({
    x: 0, y: 0, left: 0, top: 0, width, height, right: width, bottom: height, toJSON: () => ({}),
  } as DOMRect);
}

describe('the photo editor', () => {
  it('shows the staged preview and sends nothing when nothing changed', async () => {
    const r = editor(photo);
    expect(r.getByTestId('media-editor').querySelector('img')?.getAttribute('src')).toBe('natter-media://localhost/staged%2Fp1');
    await fireEvent.click(r.getByTestId('editor-done'));
    expect(r.onDone).toHaveBeenCalledWith(none(), null);
  });

  it('turns, mirrors and crops to a ratio in the order the core applies them', async () => {
    const r = editor(photo);
    await fireEvent.click(r.getByTestId('rotate'));
    await fireEvent.click(r.getByTestId('flip'));
    await fireEvent.click(r.getByTestId('ratio-1:1'));
    expect(r.getByTestId('ratio-1:1').getAttribute('aria-pressed')).toBe('true');
    await fireEvent.click(r.getByTestId('editor-done'));
    // 400×300 turned is 300×400; the largest square is all of its width, centred: 300/400 high.
    expect(r.onDone).toHaveBeenCalledWith({ rotate: 1, flip: true, crop: { x: 0, y: 0.125, width: 1, height: 0.75 }, texts: [] }, null);
  });

  it('turning a mirrored photo turns it clockwise as shown (a counter-clockwise turn before the mirror)', async () => {
    const r = editor(photo);
    await fireEvent.click(r.getByTestId('flip'));
    await fireEvent.click(r.getByTestId('rotate'));
    await fireEvent.click(r.getByTestId('editor-done'));
    expect(r.onDone.mock.calls[0][0]).toMatchObject({ rotate: 3, flip: true });
  });

  it('a ratio turns with the photo, and the crop with it', async () => {
    const r = editor(photo);
    await fireEvent.click(r.getByTestId('ratio-16:9'));
    await fireEvent.click(r.getByTestId('rotate'));
    expect(r.getByTestId('ratio-9:16').getAttribute('aria-pressed')).toBe('true');
    await fireEvent.click(r.getByTestId('editor-done'));
    const { crop } = r.onDone.mock.calls[0][0];
    // 16:9 of 400×300 is 400×225 px; turned it is 225×400 of a 300×400 picture.
    expect(crop!.width).toBeCloseTo(0.75, 6);
    expect(crop!.height).toBeCloseTo(1, 6);
  });

  it('crops by dragging a corner and moves the crop with the arrow keys', async () => {
    const r = editor(photo);
    const box = r.getByTestId('crop-box');
    layOut(box.parentElement!, 400, 300);
    const corner = r.getByTestId('crop-se');
    await fireEvent.pointerDown(corner, { pointerId: 3, clientX: 400, clientY: 300, button: 0 });
    await fireEvent.pointerMove(corner, { pointerId: 3, clientX: 200, clientY: 150 });
    await fireEvent.pointerUp(corner, { pointerId: 3, clientX: 200, clientY: 150 });
    expect(box.style.width).toBe('50%');
    await fireEvent.keyDown(box, { key: 'ArrowRight' });
    await fireEvent.keyDown(box, { key: 'ArrowDown', shiftKey: true });
    await fireEvent.click(r.getByTestId('editor-done'));
    expect(r.onDone.mock.calls[0][0].crop).toEqual({ x: 0.01, y: 0, width: 0.5, height: 0.51 });
  });

  it('adds text in a chosen colour and size, moved with the keys', async () => {
    const r = editor(photo);
    await fireEvent.click(r.getByTestId('mode-text'));
    await fireEvent.click(r.getByLabelText('Red'));
    await fireEvent.click(r.getByTestId('add-text'));
    await fireEvent.input(r.getByTestId('text-input'), { target: { value: 'Hello' } });
    await fireEvent.input(r.getByTestId('text-size'), { target: { value: '0.12' } });
    const text = r.getByTestId('overlay-text');
    expect(text.textContent).toBe('Hello');
    await fireEvent.keyDown(text, { key: 'ArrowUp', shiftKey: true });
    // An empty text is dropped, not sent.
    await fireEvent.click(r.getByTestId('add-text'));
    await fireEvent.click(r.getByTestId('editor-done'));
    expect(r.onDone.mock.calls[0][0].texts).toEqual([{ text: 'Hello', color: '#ff3b30', x: 0.5, y: 0.45, size: 0.12 }]);
  });

  it('starts from the item\'s edits, resets, and Cancel or Escape changes nothing', async () => {
    const edited: PhotoEdits = { rotate: 2, flip: true, crop: { x: 0.1, y: 0.1, width: 0.5, height: 0.5 }, texts: [] };
    const r = editor(photo, edited);
    expect(r.getByTestId('flip').getAttribute('aria-pressed')).toBe('true');
    await fireEvent.click(r.getByTestId('edit-reset'));
    await fireEvent.click(r.getByTestId('editor-cancel'));
    expect(r.onCancel).toHaveBeenCalledTimes(1);
    await fireEvent.keyDown(r.getByTestId('media-editor'), { key: 'Escape' });
    expect(r.onCancel).toHaveBeenCalledTimes(2);
    expect(r.onDone).not.toHaveBeenCalled();
    expect(edited.rotate).toBe(2);
    await fireEvent.click(r.getByTestId('editor-done'));
    expect(r.onDone).toHaveBeenCalledWith(none(), null);
  });

  it('is a labelled modal dialog that keeps Tab inside', async () => {
    const r = editor(photo);
    const dialog = r.getByRole('dialog');
    expect(dialog.getAttribute('aria-modal')).toBe('true');
    expect(dialog.getAttribute('aria-labelledby')).toBe('editor-title');
    await vi.waitFor(() => expect(document.activeElement).toBe(r.getByTestId('editor-done')));
    const buttons = [...dialog.querySelectorAll<HTMLElement>('button, [tabindex="0"]')];
    buttons.at(-1)!.focus();
    await fireEvent.keyDown(buttons.at(-1)!, { key: 'Tab' });
    expect(document.activeElement).toBe(buttons[0]);
  });
});

describe('the video editor', () => {
  it('trims with the handles\' keys and mutes; says the start snaps to a keyframe', async () => {
    const r = editor(clip);
    expect(r.getByTestId('media-editor').textContent).toContain('nearest keyframe');
    const start = r.getByTestId('trim-start');
    const end = r.getByTestId('trim-end');
    expect(end.getAttribute('aria-valuenow')).toBe('10000');
    await fireEvent.keyDown(start, { key: 'ArrowRight', shiftKey: true });
    await fireEvent.keyDown(start, { key: 'ArrowRight', shiftKey: true });
    await fireEvent.keyDown(end, { key: 'ArrowLeft' });
    expect(r.getByTestId('trim-times').textContent).toContain('0:02 – 0:09');
    await fireEvent.click(r.getByTestId('mute'));
    await fireEvent.click(r.getByTestId('editor-done'));
    expect(r.onDone).toHaveBeenCalledWith(none(), { trim_start_ms: 2000, trim_end_ms: 9900, mute: true });
  });

  it('drags a handle along the timeline, never past the other', async () => {
    const r = editor(clip, none(), { trim_start_ms: 1000, trim_end_ms: null, mute: false });
    const line = r.getByTestId('trim-timeline');
    layOut(line, 500, 44);
    const start = r.getByTestId('trim-start');
    await fireEvent.pointerDown(start, { pointerId: 4, clientX: 50, button: 0 });
    await fireEvent.pointerMove(start, { pointerId: 4, clientX: 250 });
    expect(start.getAttribute('aria-valuenow')).toBe('5000');
    await fireEvent.pointerMove(start, { pointerId: 4, clientX: 600 });
    await fireEvent.pointerUp(start, { pointerId: 4, clientX: 600 });
    expect(start.getAttribute('aria-valuenow')).toBe('9500');
    await fireEvent.click(r.getByTestId('editor-done'));
    expect(r.onDone).toHaveBeenCalledWith(none(), { trim_start_ms: 9500, trim_end_ms: null, mute: false });
  });

  it('sends no video edits when nothing changed', async () => {
    const r = editor(clip);
    await fireEvent.click(r.getByTestId('editor-done'));
    expect(r.onDone).toHaveBeenCalledWith(none(), null);
  });
});
