// Photo and video edits as the core applies them, so that what the editor shows is what is sent.
// Order (the Rust side's): rotate (clockwise quarter turns) → flip (mirror left-right) → crop (in
// fractions of the rotated and flipped image) → texts (in fractions of the final, cropped image).
// Everything here is pure; the editor only turns pointer and key presses into calls.
import type { CropRect, PhotoEdits, TextOverlay, VideoEdits } from './bindings';

export type Size = { width: number; height: number };
export type Point = { x: number; y: number };
export type Corner = 'nw' | 'ne' | 'sw' | 'se';

/** Crop ratios offered, as width:height of the final picture. */
export const RATIOS = ['free', '1:1', '4:3', '3:4', '16:9', '9:16'] as const;
export type Ratio = (typeof RATIOS)[number];

/** The smallest crop, as a fraction of either side. */
export const MIN_CROP = 0.05;
/** Text sizes the slider offers (glyph height / shorter edge of the final picture). */
export const TEXT_MIN = 0.03;
export const TEXT_MAX = 0.25;
export const TEXT_DEFAULT = 0.08;
export const TEXT_MAX_CHARS = 200;
/** Swatches for text: white, black, and four colours that read on photos. */
export const TEXT_COLORS = ['#ffffff', '#000000', '#ff3b30', '#ffcc00', '#34c759', '#0a84ff'] as const;
/** The shortest video left after trimming. */
export const MIN_TRIM_MS = 500;

const FULL: CropRect = { x: 0, y: 0, width: 1, height: 1 };

export function identity(): PhotoEdits {
  return { rotate: 0, flip: false, crop: null, texts: [] };
}

export function isIdentity(e: PhotoEdits): boolean {
  const n = normalize(e);
  return n.rotate === 0 && !n.flip && n.crop === null && n.texts.length === 0;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
const quarter = (r: number) => (((Math.round(r) % 4) + 4) % 4) as 0 | 1 | 2 | 3;

/** The size of the picture after `rotate` quarter turns. */
export function rotatedSize(source: Size, rotate: number): Size {
  return quarter(rotate) % 2 ? { width: source.height, height: source.width } : { ...source };
}

/** The size of the picture that is sent (rotated, then cropped). */
export function finalSize(source: Size, e: PhotoEdits): Size {
  const r = rotatedSize(source, e.rotate);
  const c = e.crop ?? FULL;
  return { width: r.width * c.width, height: r.height * c.height };
}

/** The ratio as a number (width / height), or null for a free crop. */
export function ratioValue(r: Ratio): number | null {
  if (r === 'free') return null;
  const [w, h] = r.split(':').map(Number);
  return w / h;
}

/** The same ratio a quarter turn later (4:3 becomes 3:4). */
export function turnedRatio(r: Ratio): Ratio {
  if (r === 'free' || r === '1:1') return r;
  const [w, h] = r.split(':');
  const turned = `${h}:${w}`;
  return (RATIOS as readonly string[]).includes(turned) ? (turned as Ratio) : 'free';
}

/** Which ratio a crop has, if it is one of those offered (within half a percent). */
export function ratioOf(source: Size, e: PhotoEdits): Ratio {
  const f = finalSize(source, e);
  const have = f.width / f.height;
  for (const r of RATIOS) {
    const want = ratioValue(r);
    if (want !== null && Math.abs(have / want - 1) < 0.005) return r;
  }
  return 'free';
}

/** A point of the displayed picture after it turns a quarter clockwise. */
function turnPoint(p: Point): Point {
  return { x: 1 - p.y, y: p.x };
}

function turnRect(c: CropRect): CropRect {
  return { x: 1 - c.y - c.height, y: c.x, width: c.height, height: c.width };
}

/**
 * Turns what the editor shows a quarter clockwise. The crop and the texts turn with the
 * picture, so they stay on the same part of it. Since flipping comes after rotating, turning a
 * mirrored picture clockwise is a counter-clockwise turn of the original, mirrored.
 */
export function rotateClockwise(e: PhotoEdits): PhotoEdits {
  return {
    rotate: e.flip ? quarter(e.rotate + 3) : quarter(e.rotate + 1),
    flip: e.flip,
    crop: e.crop ? turnRect(e.crop) : null,
    texts: e.texts.map((t) => ({ ...t, ...turnPoint(t) })),
  };
}

/** Mirrors what the editor shows left-right (crop and texts follow the picture). */
export function flipHorizontal(e: PhotoEdits): PhotoEdits {
  return {
    rotate: e.rotate,
    flip: !e.flip,
    crop: e.crop ? { ...e.crop, x: 1 - e.crop.x - e.crop.width } : null,
    texts: e.texts.map((t) => ({ ...t, x: 1 - t.x })),
  };
}

/**
 * Where a point of the original (upright, unedited) picture ends up in the picture that is sent,
 * in fractions of each. Outside 0..1 when the crop cuts it off.
 */
export function toFinal(e: PhotoEdits, p: Point): Point {
  let q = p;
  for (let i = 0; i < quarter(e.rotate); i++) q = turnPoint(q);
  if (e.flip) q = { x: 1 - q.x, y: q.y };
  const c = e.crop ?? FULL;
  return { x: (q.x - c.x) / c.width, y: (q.y - c.y) / c.height };
}

/**
 * The largest crop of ratio `ratio` (width / height in pixels of the rotated picture `shown`)
 * that fits the picture, centred where `around` was (or on the picture).
 */
export function cropForRatio(ratio: number, shown: Size, around: CropRect | null = null): CropRect {
  // In fractions, width / height = ratio × (picture height / picture width).
  const k = (ratio * shown.height) / shown.width;
  const width = k >= 1 ? 1 : k;
  const height = k >= 1 ? 1 / k : 1;
  const c = around ?? FULL;
  const cx = c.x + c.width / 2;
  const cy = c.y + c.height / 2;
  return {
    x: clamp(cx - width / 2, 0, 1 - width),
    y: clamp(cy - height / 2, 0, 1 - height),
    width,
    height,
  };
}

/** Moves a crop by (dx, dy) fractions, keeping it inside the picture. */
export function moveCrop(c: CropRect, dx: number, dy: number): CropRect {
  return { ...c, x: clamp(c.x + dx, 0, 1 - c.width), y: clamp(c.y + dy, 0, 1 - c.height) };
}

/**
 * Drags one corner of a crop by (dx, dy) fractions; the opposite corner stays. With a ratio
 * (width / height in pixels of the rotated picture `shown`), the crop keeps it, following
 * whichever direction the corner moved further. Never smaller than MIN_CROP, never outside.
 */
export function resizeCrop(
  c: CropRect,
  corner: Corner,
  dx: number,
  dy: number,
  ratio: number | null = null,
  shown: Size = { width: 1, height: 1 },
): CropRect {
  const west = corner.includes('w');
  const north = corner.includes('n');
  // The fixed corner, and how much room there is from it towards the moving one.
  const ax = west ? c.x + c.width : c.x;
  const ay = north ? c.y + c.height : c.y;
  const roomW = west ? ax : 1 - ax;
  const roomH = north ? ay : 1 - ay;
  let w = clamp(c.width + (west ? -dx : dx), MIN_CROP, roomW);
  let h = clamp(c.height + (north ? -dy : dy), MIN_CROP, roomH);
  if (ratio !== null) {
    const k = (ratio * shown.height) / shown.width;
    // Follow the side that moved further (measured at the ratio), then fit the room.
    if (Math.abs(w - c.width) >= Math.abs(h - c.height) * k) h = w / k;
    else w = h * k;
    if (w > roomW) {
      w = roomW;
      h = w / k;
    }
    if (h > roomH) {
      h = roomH;
      w = h * k;
    }
    if (w < MIN_CROP || h < MIN_CROP) {
      const up = Math.max(MIN_CROP / w, MIN_CROP / h);
      w = Math.min(w * up, roomW, roomH * k);
      h = w / k;
    }
  }
  return { x: west ? ax - w : ax, y: north ? ay - h : ay, width: w, height: h };
}

/** A new text in the middle of the picture. */
export function newText(color: string = TEXT_COLORS[0]): TextOverlay {
  return { text: '', color, x: 0.5, y: 0.5, size: TEXT_DEFAULT };
}

/** Moves a text's centre by (dx, dy) fractions of the final picture, keeping it on it. */
export function moveText(t: TextOverlay, dx: number, dy: number): TextOverlay {
  return { ...t, x: clamp(t.x + dx, 0, 1), y: clamp(t.y + dy, 0, 1) };
}

/**
 * Edits as they are sent: a crop of the whole picture is no crop, numbers are rounded and kept
 * in range (floating point must not make 1.0000001), blank texts are dropped.
 */
export function normalize(e: PhotoEdits): PhotoEdits {
  let crop: CropRect | null = null;
  if (e.crop) {
    const width = clamp(round6(e.crop.width), MIN_CROP, 1);
    const height = clamp(round6(e.crop.height), MIN_CROP, 1);
    const x = clamp(round6(e.crop.x), 0, round6(1 - width));
    const y = clamp(round6(e.crop.y), 0, round6(1 - height));
    const full = width > 0.9999 && height > 0.9999;
    crop = full ? null : { x, y, width, height };
  }
  const texts = e.texts
    .map((t) => ({
      text: t.text.trim().slice(0, TEXT_MAX_CHARS),
      color: /^#[0-9a-f]{6}$/i.test(t.color) ? t.color.toLowerCase() : TEXT_COLORS[0],
      x: clamp(round6(t.x), 0, 1),
      y: clamp(round6(t.y), 0, 1),
      size: clamp(round6(t.size), TEXT_MIN, TEXT_MAX),
    }))
    .filter((t) => t.text.length > 0);
  return { rotate: quarter(e.rotate), flip: !!e.flip, crop, texts };
}

/**
 * How to show the edited picture with CSS: an `<img>` of the original, placed (in % of a frame
 * that has the final picture's aspect ratio, see `finalSize`) and transformed (about its centre)
 * so that the frame shows exactly what is sent. Texts are drawn on top by the caller.
 */
export function frameLayout(
  e: PhotoEdits,
  source: Size,
): { left: number; top: number; width: number; height: number; transform: string } {
  const turns = quarter(e.rotate);
  const shown = rotatedSize(source, turns);
  const c = e.crop ?? FULL;
  const frame = { width: shown.width * c.width, height: shown.height * c.height };
  // The rotated picture in frame units (1 = the frame's width or height).
  const rw = shown.width / frame.width;
  const rh = shown.height / frame.height;
  const cx = (-c.x + 0.5) * rw;
  const cy = (-c.y + 0.5) * rh;
  // The original before turning: its sides in frame units along x and y.
  const w = turns % 2 ? shown.height / frame.width : rw;
  const h = turns % 2 ? shown.width / frame.height : rh;
  const transform = `${e.flip ? 'scaleX(-1) ' : ''}rotate(${turns * 90}deg)`;
  return {
    left: (cx - w / 2) * 100,
    top: (cy - h / 2) * 100,
    width: w * 100,
    height: h * 100,
    transform,
  };
}

/**
 * A video's trim and sound as sent, or null when nothing changed. The start is where the user
 * put it; the core snaps it back to the keyframe before it.
 */
export function videoEdits(startMs: number, endMs: number, durationMs: number, mute: boolean): VideoEdits | null {
  const start = Math.round(clamp(startMs, 0, durationMs));
  const end = Math.round(clamp(endMs, start, durationMs));
  const trim_start_ms = start > 0 ? start : null;
  const trim_end_ms = end < durationMs ? end : null;
  if (trim_start_ms === null && trim_end_ms === null && !mute) return null;
  return { trim_start_ms, trim_end_ms, mute };
}

/** Moves one trim handle, keeping at least MIN_TRIM_MS between them and both in the video. */
export function moveTrim(
  which: 'start' | 'end',
  to: number,
  trim: { start: number; end: number },
  durationMs: number,
): { start: number; end: number } {
  const gap = Math.min(MIN_TRIM_MS, durationMs);
  if (which === 'start') return { start: Math.round(clamp(to, 0, trim.end - gap)), end: trim.end };
  return { start: trim.start, end: Math.round(clamp(to, trim.start + gap, durationMs)) };
}
