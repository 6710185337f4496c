// Photos and videos on screen: their addresses in the app's `natter-media` scheme, blurhash
// placeholders, and the small conversions the album code shares.
import { convertFileSrc } from '@tauri-apps/api/core';
import { decode } from 'blurhash';
import type { MediaItemView } from './bindings';
import { duration } from './format';

/** The URI scheme the shell serves media through (`natter-media://localhost/ID`). */
export const MEDIA_SCHEME = 'natter-media';

/**
 * The address of a media file for `<img>`/`<video>`: a `media_id` (the full photo or video,
 * fetched on demand), a `thumbnail_id` (a JPEG of about 320 px) or `staged/<id>` (the prepared
 * preview of an item not sent yet). Tauri picks the form the platform needs.
 */
export function mediaUrl(id: string): string {
  try {
    return convertFileSrc(id, MEDIA_SCHEME);
  } catch {
    // Outside the app (tests, a plain browser): the desktop form.
    return `${MEDIA_SCHEME}://localhost/${encodeURIComponent(id)}`;
  }
}

/** The preview of a staged (picked, pasted or captured) item, upright and before edits. */
export function stagedUrl(stagedId: string): string {
  return mediaUrl(`staged/${stagedId}`);
}

const BLUR_SIZE = 32;
const BLUR_CACHE_MAX = 500;
// A memo, never a source of reactivity.
const blurCache = new Map<string, string | null>();

/**
 * A blurhash as an image address (a 32×32 BMP data URL, scaled up smoothly by the browser),
 * or null when the hash is not valid. Memoised: an album of nine costs nine decodes once.
 * BMP because it needs no canvas: it works wherever `<img>` does, tests included.
 */
export function blurhashUrl(hash: string): string | null {
  if (!hash) return null;
  const known = blurCache.get(hash);
  if (known !== undefined) return known;
  let url: string | null = null;
  try {
    url = bmpDataUrl(decode(hash, BLUR_SIZE, BLUR_SIZE), BLUR_SIZE, BLUR_SIZE);
  } catch {
    url = null;
  }
  if (blurCache.size >= BLUR_CACHE_MAX) blurCache.delete(blurCache.keys().next().value as string);
  blurCache.set(hash, url);
  return url;
}

/** RGBA pixels (rows top to bottom) as a 24-bit BMP data URL. */
export function bmpDataUrl(rgba: Uint8ClampedArray, width: number, height: number): string {
  const rowBytes = Math.ceil((width * 3) / 4) * 4;
  const size = 54 + rowBytes * height;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = 0x42; // 'B'
  out[1] = 0x4d; // 'M'
  view.setUint32(2, size, true);
  view.setUint32(10, 54, true); // pixels start after the two headers
  view.setUint32(14, 40, true); // BITMAPINFOHEADER
  view.setInt32(18, width, true);
  view.setInt32(22, height, true); // positive: rows stored bottom to top
  view.setUint16(26, 1, true);
  view.setUint16(28, 24, true);
  view.setUint32(34, rowBytes * height, true);
  for (let y = 0; y < height; y++) {
    const row = 54 + (height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      out[row + x * 3] = rgba[i + 2];
      out[row + x * 3 + 1] = rgba[i + 1];
      out[row + x * 3 + 2] = rgba[i];
    }
  }
  return `data:image/bmp;base64,${bytesToBase64(out)}`;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    bin += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(bin);
}

/** A Blob (a pasted image, a camera capture) as base64, for the core. */
export async function blobToBase64(blob: Blob): Promise<string> {
  const buffer =
    typeof blob.arrayBuffer === 'function'
      ? await blob.arrayBuffer()
      : await new Promise<ArrayBuffer>((resolve, reject) => {
          const r = new FileReader();
          r.onload = () => resolve(r.result as ArrayBuffer);
          r.onerror = () => reject(r.error);
          r.readAsArrayBuffer(blob);
        });
  return bytesToBase64(new Uint8Array(buffer));
}

const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/heic': 'heic',
  'video/mp4': 'mp4',
  'video/quicktime': 'mov',
  'video/webm': 'webm',
};

/** A file name to offer when saving item `index` (0-based) of an album sent at `sentAt`. */
export function saveName(item: Pick<MediaItemView, 'mime' | 'kind'>, sentAt: number, index: number): string {
  const d = new Date(sentAt);
  const pad = (n: number) => String(n).padStart(2, '0');
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`;
  const ext = EXTENSIONS[item.mime] ?? (item.kind === 'video' ? 'mp4' : 'jpg');
  return `Natter ${day} ${time}${index > 0 ? ` (${index + 1})` : ''}.${ext}`;
}

/**
 * An animated GIF (the core keeps those as GIFs; a still one becomes a photo): the viewer
 * plays the file itself, the album shows its still thumbnail with a badge.
 */
export function isGif(item: { mime?: string }): boolean {
  return item.mime === 'image/gif';
}

/** What an item is, for labels: "Photo 2 of 5", "Video 1 of 3, 0:12", "GIF". */
export function itemLabel(
  item: Pick<MediaItemView, 'kind' | 'duration_ms'> & { mime?: string },
  index: number,
  count: number,
): string {
  const kind = item.kind === 'video' ? 'Video' : isGif(item) ? 'GIF' : 'Photo';
  const of = count > 1 ? ` ${index + 1} of ${count}` : '';
  return item.kind === 'video' ? `${kind}${of}, ${duration(item.duration_ms)}` : `${kind}${of}`;
}

/** "3 photos and 1 video", "a photo", "2 videos". */
export function describeItems(kinds: string[]): string {
  const photos = kinds.filter((k) => k !== 'video').length;
  const videos = kinds.length - photos;
  const part = (n: number, one: string, many: string) => (n === 1 ? `1 ${one}` : `${n} ${many}`);
  if (videos === 0) return photos === 1 ? 'a photo' : part(photos, 'photo', 'photos');
  if (photos === 0) return videos === 1 ? 'a video' : part(videos, 'video', 'videos');
  return `${part(photos, 'photo', 'photos')} and ${part(videos, 'video', 'videos')}`;
}
