// Where each photo or video of an album goes in its bubble: a pure function of the items'
// sizes and the width available, tested in album-layout.test.ts. Cells fill the width exactly,
// never overlap and keep the album's order (reading left to right, top to bottom); pictures
// whose shape does not fit their cell are cropped to it (object-fit: cover), so panoramas and
// very tall pictures get sane cells instead of slivers.

export type Rect = { x: number; y: number; width: number; height: number };
export type AlbumLayout = { width: number; height: number; rects: Rect[] };
type Shape = { width: number; height: number };

/** Pixels between cells. */
export const GAP = 2;
/** Most items in one album. */
export const ALBUM_MAX_ITEMS = 9;

/** Aspect ratios (width / height) used for cells: a panorama or a tall strip is cropped. */
const ASPECT_MIN = 0.6;
const ASPECT_MAX = 1.8;
/** A lone picture may be wider than this (a panorama), up to 3:1, or as tall as 4:5 of the width. */
const SINGLE_MAX_ASPECT = 3;
const SINGLE_MAX_HEIGHT = 1.25;
const SINGLE_MIN_WIDTH = 0.5;
/** The whole album is at most this tall, relative to its width. */
const MAX_HEIGHT = 1.4;

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

function aspect(s: Shape, lo = ASPECT_MIN, hi = ASPECT_MAX): number {
  const a = s.width > 0 && s.height > 0 ? s.width / s.height : 1;
  return clamp(a, lo, hi);
}

/** Rows of how many items, for 2 to 9 items (3 has its own layout). */
function rowsFor(items: Shape[]): number[] {
  const avg = items.reduce((s, i) => s + aspect(i), 0) / items.length;
  switch (items.length) {
    case 2:
      // Two wide pictures side by side would be thin strips: one above the other.
      return items.every((i) => aspect(i, 0, Infinity) > 1.4) ? [1, 1] : [2];
    case 3:
      return [1, 2];
    case 4:
      return [2, 2];
    case 5:
      return [2, 3];
    case 6:
      // Rows of three landscape pictures are low; two per row suits them better.
      return avg > 1.2 ? [2, 2, 2] : [3, 3];
    case 7:
      // A landscape first picture leads on its own; otherwise three and four.
      return aspect(items[0]) >= 1.2 ? [1, 3, 3] : [3, 4];
    case 8:
      return [2, 3, 3];
    default:
      return [3, 3, 3];
  }
}

/** A row's cells as widths (floats summing to `w` less the gaps) and its natural height. */
function row(items: Shape[], w: number): { widths: number[]; height: number } {
  const n = items.length;
  const aspects = items.map((i) => aspect(i));
  const sum = aspects.reduce((s, a) => s + a, 0);
  const room = w - GAP * (n - 1);
  // Mostly by shape, partly equal: no cell becomes a sliver next to a panorama.
  const widths = aspects.map((a) => room * (0.75 * (a / sum) + 0.25 / n));
  const single = n === 1 ? aspect(items[0], 0, Infinity) : 0;
  const height = n === 1 ? w / clamp(single, 1, 2.2) : room / sum;
  return { widths, height };
}

/** Rounds float edges to whole pixels (the same rounding for touching edges: no overlap). */
function snap(x0: number, x1: number, y0: number, y1: number): Rect {
  const x = Math.round(x0);
  const y = Math.round(y0);
  return { x, y, width: Math.round(x1) - x, height: Math.round(y1) - y };
}

function single(item: Shape, w: number): AlbumLayout {
  const a = aspect(item, 0, Infinity);
  let width = w;
  let height = w / Math.min(a, SINGLE_MAX_ASPECT);
  if (a < 1) {
    height = Math.min(w / a, w * SINGLE_MAX_HEIGHT);
    width = clamp(height * a, w * SINGLE_MIN_WIDTH, w);
  }
  const r = snap(0, width, 0, height);
  return { width: r.width, height: r.height, rects: [r] };
}

/** Three items with a portrait first: it takes the left, the other two stack on the right. */
function column(items: Shape[], w: number): AlbumLayout {
  const [a0, a1, a2] = items.map((i) => aspect(i));
  const s = 1 / a1 + 1 / a2;
  // The left width at which the left picture and the stacked pair are equally tall.
  const ideal = ((w - GAP) * s + GAP) / (1 / a0 + s);
  const left = clamp(ideal, w * 0.45, w * 0.7);
  const height = clamp(left / a0, w * 0.5, w * MAX_HEIGHT);
  const share = clamp(1 / a1 / s, 0.3, 0.7);
  const top = (height - GAP) * share;
  const rects = [
    snap(0, left, 0, height),
    snap(left + GAP, w, 0, top),
    snap(left + GAP, w, top + GAP, height),
  ];
  return { width: w, height: Math.round(height), rects };
}

/**
 * Lays out an album of 1 to 9 items (their pixel sizes, in order) in `maxWidth` pixels. A lone
 * portrait picture may be narrower than `maxWidth`; every other album is exactly that wide.
 */
export function albumLayout(items: Shape[], maxWidth: number): AlbumLayout {
  const w = Math.max(1, Math.round(maxWidth));
  const list = items.slice(0, ALBUM_MAX_ITEMS);
  if (list.length === 0) return { width: 0, height: 0, rects: [] };
  if (list.length === 1) return single(list[0], w);
  if (list.length === 3 && aspect(list[0], 0, Infinity) < 1) return column(list, w);

  const counts = rowsFor(list);
  let start = 0;
  const rows = counts.map((n) => {
    const r = row(list.slice(start, start + n), w);
    start += n;
    return r;
  });
  // Rows keep their natural height within bounds, and the album its overall limit.
  let heights = rows.map((r, i) => clamp(r.height, w * 0.22, counts[i] === 1 ? w * 0.75 : w * 0.6));
  const room = w * MAX_HEIGHT - GAP * (rows.length - 1);
  const total = heights.reduce((s, h) => s + h, 0);
  if (total > room) heights = heights.map((h) => (h * room) / total);

  const rects: Rect[] = [];
  let y = 0;
  rows.forEach((r, i) => {
    let x = 0;
    r.widths.forEach((cw, j) => {
      const end = j === r.widths.length - 1 ? w : x + cw;
      rects.push(snap(x, end, y, y + heights[i]));
      x = end + GAP;
    });
    y += heights[i] + GAP;
  });
  return { width: w, height: Math.round(y - GAP), rects };
}
