import { afterEach, describe, expect, it } from 'vitest';
import { blobToBase64, blurhashUrl, bmpDataUrl, describeItems, itemLabel, mediaUrl, saveName, stagedUrl } from './media';

type Internals = { convertFileSrc: (path: string, protocol: string) => string };
const w = window as unknown as { __TAURI_INTERNALS__?: Internals };

afterEach(() => {
  delete w.__TAURI_INTERNALS__;
});

describe('media addresses', () => {
  it('go through the natter-media scheme, in the form Tauri gives for the platform', () => {
    w.__TAURI_INTERNALS__ = {
      convertFileSrc: (path, protocol) => `http://${protocol}.localhost/${encodeURIComponent(path)}`,
    };
    expect(mediaUrl('abc')).toBe('http://natter-media.localhost/abc');
    expect(stagedUrl('s1')).toBe('http://natter-media.localhost/staged%2Fs1');
  });

  it('fall back to the desktop form outside the app', () => {
    expect(mediaUrl('abc')).toBe('natter-media://localhost/abc');
    expect(stagedUrl('s1')).toBe('natter-media://localhost/staged%2Fs1');
  });
});

describe('blurhash placeholders', () => {
  it('decode to a small BMP, once per hash', () => {
    const url = blurhashUrl('LEHV6nWB2yk8pyo0adR*.7kCMdnj');
    expect(url).toMatch(/^data:image\/bmp;base64,/);
    expect(blurhashUrl('LEHV6nWB2yk8pyo0adR*.7kCMdnj')).toBe(url);
    const bytes = atob(url!.slice('data:image/bmp;base64,'.length));
    expect(bytes.length).toBe(54 + 32 * 32 * 3);
  });

  it('are absent for an empty or broken hash (no exception)', () => {
    expect(blurhashUrl('')).toBeNull();
    expect(blurhashUrl('not a hash')).toBeNull();
  });

  it('write pixels bottom-up in BGR, rows padded to 4 bytes', () => {
    // 2×2: red, green / blue, white.
    const rgba = new Uint8ClampedArray([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 255, 255, 255, 255]);
    const bytes = Uint8Array.from(atob(bmpDataUrl(rgba, 2, 2).split(',')[1]), (c) => c.charCodeAt(0));
    expect(bytes.length).toBe(54 + 8 * 2);
    // The first stored row is the bottom one: blue, white.
    expect([...bytes.subarray(54, 60)]).toEqual([255, 0, 0, 255, 255, 255]);
    expect([...bytes.subarray(62, 68)]).toEqual([0, 0, 255, 0, 255, 0]);
  });
});

describe('helpers', () => {
  it('reads a blob as base64', async () => {
    expect(await blobToBase64(new Blob(['hello']))).toBe(btoa('hello'));
  });

  it('names what is sent or saved', () => {
    expect(describeItems(['image'])).toBe('a photo');
    expect(describeItems(['video'])).toBe('a video');
    expect(describeItems(['image', 'image', 'video'])).toBe('2 photos and 1 video');
    expect(describeItems(['video', 'video'])).toBe('2 videos');
    expect(itemLabel({ kind: 'video', duration_ms: 12_400 }, 1, 5)).toBe('Video 2 of 5, 0:12');
    expect(itemLabel({ kind: 'image', duration_ms: 0 }, 0, 1)).toBe('Photo');
    expect(itemLabel({ kind: 'image', mime: 'image/gif', duration_ms: 0 }, 2, 3)).toBe('GIF 3 of 3');
    expect(itemLabel({ kind: 'image', mime: 'image/webp', duration_ms: 0 }, 2, 3)).toBe('Photo 3 of 3');
    const at = new Date(2025, 2, 4, 9, 5, 7).getTime();
    expect(saveName({ mime: 'image/jpeg', kind: 'image' }, at, 0)).toBe('Natter 2025-03-04 090507.jpg');
    expect(saveName({ mime: 'video/quicktime', kind: 'video' }, at, 2)).toBe('Natter 2025-03-04 090507 (3).mov');
  });
});
