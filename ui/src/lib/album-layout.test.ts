import { describe, expect, it } from 'vitest';
import { ALBUM_MAX_ITEMS, GAP, albumLayout, type AlbumLayout, type Rect } from './album-layout';

type Shape = { width: number; height: number };

function random(seed: number) {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

const LANDSCAPE = { width: 4000, height: 3000 };
const PORTRAIT = { width: 3000, height: 4000 };
const SQUARE = { width: 1000, height: 1000 };
const PANORAMA = { width: 12000, height: 1000 };
const STRIP = { width: 400, height: 6000 };
const BROKEN = { width: 0, height: 0 };

/** Albums of every size made of every kind of shape, plus random ones. */
function albums(): Shape[][] {
  const kinds = [LANDSCAPE, PORTRAIT, SQUARE, PANORAMA, STRIP, BROKEN];
  const out: Shape[][] = [];
  for (let n = 1; n <= ALBUM_MAX_ITEMS; n++) {
    for (const k of kinds) out.push(Array(n).fill(k));
    out.push(Array.from({ length: n }, (_, i) => kinds[i % kinds.length]));
    out.push(Array.from({ length: n }, (_, i) => kinds[(i + 3) % kinds.length]));
  }
  const rnd = random(9);
  for (let i = 0; i < 300; i++) {
    const n = 1 + Math.floor(rnd() * ALBUM_MAX_ITEMS);
    out.push(
      Array.from({ length: n }, () => ({
        width: 50 + Math.floor(rnd() ** 3 * 20000),
        height: 50 + Math.floor(rnd() ** 3 * 20000),
      })),
    );
  }
  return out;
}

const overlap = (a: Rect, b: Rect) =>
  Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x)) *
  Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));

/** Points of the album not in any cell: each must be in a gap, next to a cell. */
function holes(l: AlbumLayout): number {
  let far = 0;
  for (let y = 0.5; y < l.height; y += 2) {
    for (let x = 0.5; x < l.width; x += 2) {
      const near = l.rects.some(
        (r) => x >= r.x - GAP && x <= r.x + r.width + GAP && y >= r.y - GAP && y <= r.y + r.height + GAP,
      );
      if (!near) far++;
    }
  }
  return far;
}

describe('albumLayout', () => {
  it('gives one cell per item, inside the album, in whole pixels, none overlapping', () => {
    for (const items of albums()) {
      const l = albumLayout(items, 360);
      expect(l.rects).toHaveLength(items.length);
      for (const r of l.rects) {
        for (const v of [r.x, r.y, r.width, r.height]) expect(Number.isInteger(v)).toBe(true);
        expect(r.x).toBeGreaterThanOrEqual(0);
        expect(r.y).toBeGreaterThanOrEqual(0);
        expect(r.x + r.width).toBeLessThanOrEqual(l.width);
        expect(r.y + r.height).toBeLessThanOrEqual(l.height);
      }
      for (let i = 0; i < l.rects.length; i++) {
        for (let j = i + 1; j < l.rects.length; j++) expect(overlap(l.rects[i], l.rects[j])).toBe(0);
      }
    }
  });

  it('fills the width (and leaves no hole but the gaps)', () => {
    for (const items of albums()) {
      const l = albumLayout(items, 360);
      if (items.length > 1) expect(l.width).toBe(360);
      expect(Math.max(...l.rects.map((r) => r.x + r.width))).toBe(l.width);
      expect(Math.max(...l.rects.map((r) => r.y + r.height))).toBe(l.height);
      expect(holes(l)).toBe(0);
    }
  });

  it('keeps the order: left to right, then top to bottom', () => {
    for (const items of albums()) {
      const { rects } = albumLayout(items, 360);
      for (let i = 1; i < rects.length; i++) {
        const a = rects[i - 1];
        const b = rects[i];
        expect(b.y > a.y || (b.y === a.y && b.x > a.x)).toBe(true);
      }
    }
  });

  it('is sane for panoramas, tall strips and broken sizes: no slivers, not too tall', () => {
    for (const items of albums()) {
      const l = albumLayout(items, 360);
      expect(l.height).toBeLessThanOrEqual(360 * 1.4 + 1);
      expect(l.height).toBeGreaterThanOrEqual(100);
      for (const r of l.rects) {
        expect(r.width).toBeGreaterThanOrEqual(44);
        expect(r.height).toBeGreaterThanOrEqual(44);
      }
    }
  });

  it('shows a lone picture in its own shape, within bounds', () => {
    expect(albumLayout([LANDSCAPE], 360)).toEqual({ width: 360, height: 270, rects: [{ x: 0, y: 0, width: 360, height: 270 }] });
    const p = albumLayout([PORTRAIT], 360);
    expect(p.height).toBe(450); // at most 1.25 × the width
    expect(p.width).toBe(338); // 450 × 3/4
    expect(albumLayout([PANORAMA], 360).height).toBe(120); // cropped to 3:1
    expect(albumLayout([STRIP], 360).width).toBe(180); // at least half the width
  });

  it('uses the layouts people know', () => {
    const rowsOf = (l: AlbumLayout) => {
      const ys = [...new Set(l.rects.map((r) => r.y))];
      return ys.map((y) => l.rects.filter((r) => r.y === y).length);
    };
    expect(rowsOf(albumLayout([SQUARE, SQUARE], 360))).toEqual([2]);
    expect(rowsOf(albumLayout([PANORAMA, PANORAMA], 360))).toEqual([1, 1]);
    expect(rowsOf(albumLayout([LANDSCAPE, SQUARE, SQUARE], 360))).toEqual([1, 2]);
    // A portrait first: large on the left, two stacked on the right.
    const col = albumLayout([PORTRAIT, SQUARE, SQUARE], 360);
    expect(col.rects[0].height).toBe(col.height);
    expect(col.rects[1].x).toBe(col.rects[2].x);
    expect(col.rects[1].y + col.rects[1].height + GAP).toBe(col.rects[2].y);
    expect(rowsOf(albumLayout(Array(4).fill(SQUARE), 360))).toEqual([2, 2]);
    expect(rowsOf(albumLayout(Array(5).fill(SQUARE), 360))).toEqual([2, 3]);
    expect(rowsOf(albumLayout(Array(6).fill(PORTRAIT), 360))).toEqual([3, 3]);
    expect(rowsOf(albumLayout(Array(6).fill(LANDSCAPE), 360))).toEqual([2, 2, 2]);
    expect(rowsOf(albumLayout(Array(7).fill(LANDSCAPE), 360))).toEqual([1, 3, 3]);
    expect(rowsOf(albumLayout(Array(7).fill(PORTRAIT), 360))).toEqual([3, 4]);
    expect(rowsOf(albumLayout(Array(8).fill(SQUARE), 360))).toEqual([2, 3, 3]);
    expect(rowsOf(albumLayout(Array(9).fill(SQUARE), 360))).toEqual([3, 3, 3]);
  });

  it('gives wider pictures wider cells within a row', () => {
    const { rects } = albumLayout([LANDSCAPE, PORTRAIT], 360);
    expect(rects[0].width).toBeGreaterThan(rects[1].width);
    expect(rects[0].height).toBe(rects[1].height);
  });

  it('scales with the width and shows nothing for no items', () => {
    expect(albumLayout(Array(9).fill(SQUARE), 720).width).toBe(720);
    expect(albumLayout([], 360)).toEqual({ width: 0, height: 0, rects: [] });
    expect(albumLayout(Array(12).fill(SQUARE), 360).rects).toHaveLength(ALBUM_MAX_ITEMS);
  });
});
