import { describe, expect, it } from 'vitest';
import type { CropRect, PhotoEdits } from './bindings';
import {
  MIN_CROP,
  TEXT_MAX,
  cropForRatio,
  finalSize,
  flipHorizontal,
  frameLayout,
  identity,
  isIdentity,
  moveCrop,
  moveTrim,
  normalize,
  ratioOf,
  ratioValue,
  resizeCrop,
  rotateClockwise,
  rotatedSize,
  toFinal,
  turnedRatio,
  videoEdits,
  type Corner,
  type Point,
  type Size,
} from './edits';

/** A small seeded generator, so that a failing case can be replayed. */
function random(seed: number) {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

function randomEdits(rnd: () => number): PhotoEdits {
  const width = 0.1 + rnd() * 0.9;
  const height = 0.1 + rnd() * 0.9;
  const crop: CropRect | null = rnd() < 0.2 ? null : { x: rnd() * (1 - width), y: rnd() * (1 - height), width, height };
  return {
    rotate: Math.floor(rnd() * 4),
    flip: rnd() < 0.5,
    crop,
    texts: [{ text: 'hi', color: '#ffffff', x: rnd(), y: rnd(), size: 0.08 }],
  };
}

function close(a: Point, b: Point, digits = 9) {
  expect(a.x).toBeCloseTo(b.x, digits);
  expect(a.y).toBeCloseTo(b.y, digits);
}

/** The picture turned a quarter clockwise, as a point of what is shown. */
const turned = (p: Point): Point => ({ x: 1 - p.y, y: p.x });
const corners: Point[] = [
  { x: 0, y: 0 },
  { x: 1, y: 0 },
  { x: 1, y: 1 },
  { x: 0, y: 1 },
  { x: 0.3, y: 0.7 },
];

describe('sizes', () => {
  it('a quarter turn swaps the sides; a crop takes its fraction of the turned picture', () => {
    const src = { width: 4000, height: 3000 };
    expect(rotatedSize(src, 1)).toEqual({ width: 3000, height: 4000 });
    expect(rotatedSize(src, 2)).toEqual(src);
    expect(rotatedSize(src, -1)).toEqual({ width: 3000, height: 4000 });
    const e = { ...identity(), rotate: 3, crop: { x: 0, y: 0.5, width: 0.5, height: 0.25 } };
    expect(finalSize(src, e)).toEqual({ width: 1500, height: 1000 });
  });
});

describe('rotate and flip as the editor shows them', () => {
  it('four turns and two flips change nothing', () => {
    const rnd = random(1);
    for (let i = 0; i < 50; i++) {
      const e = randomEdits(rnd);
      let r = e;
      for (let k = 0; k < 4; k++) r = rotateClockwise(r);
      expect(r.rotate).toBe(e.rotate);
      expect(r.flip).toBe(e.flip);
      if (e.crop) {
        expect(r.crop!.x).toBeCloseTo(e.crop.x, 12);
        expect(r.crop!.y).toBeCloseTo(e.crop.y, 12);
      }
      const f = flipHorizontal(flipHorizontal(e));
      expect(f.flip).toBe(e.flip);
      if (e.crop) expect(f.crop!.x).toBeCloseTo(e.crop.x, 12);
      expect(f.texts[0].x).toBeCloseTo(e.texts[0].x, 12);
    }
  });

  it('a turn turns what is shown clockwise, crop and texts included, flipped or not', () => {
    const rnd = random(2);
    for (let i = 0; i < 200; i++) {
      const e = randomEdits(rnd);
      const r = rotateClockwise(e);
      for (const p of corners) close(toFinal(r, p), turned(toFinal(e, p)));
      // The text stays on the same spot of the picture.
      close(r.texts[0], turned(e.texts[0]));
    }
  });

  it('a flip mirrors what is shown left-right, after any turns', () => {
    const rnd = random(3);
    for (let i = 0; i < 200; i++) {
      const e = randomEdits(rnd);
      const f = flipHorizontal(e);
      for (const p of corners) {
        const before = toFinal(e, p);
        close(toFinal(f, p), { x: 1 - before.x, y: before.y });
      }
      expect(f.texts[0].x).toBeCloseTo(1 - e.texts[0].x, 12);
    }
  });

  it('turning a mirrored picture clockwise is a counter-clockwise turn of the original (rotate before flip)', () => {
    const e = rotateClockwise(flipHorizontal(identity()));
    expect(e).toMatchObject({ rotate: 3, flip: true });
    // The original's top-left corner: mirrored to the top-right, then turned to the bottom-right.
    close(toFinal(e, { x: 0, y: 0 }), { x: 1, y: 1 });
    const f = flipHorizontal(rotateClockwise(identity()));
    expect(f).toMatchObject({ rotate: 1, flip: true });
    // Turned to the top-right, then mirrored to the top-left.
    close(toFinal(f, { x: 0, y: 0 }), { x: 0, y: 0 });
  });

  it('maps the original into the cropped picture', () => {
    const e: PhotoEdits = { rotate: 1, flip: false, crop: { x: 0.5, y: 0, width: 0.5, height: 0.5 }, texts: [] };
    // A quarter turn puts the original's top-left at the top-right: the right half's top-right.
    close(toFinal(e, { x: 0, y: 0 }), { x: 1, y: 0 });
    close(toFinal(e, { x: 0.5, y: 0.5 }), { x: 0, y: 1 });
  });
});

describe('crop ratios', () => {
  it('finds the largest centred crop of a ratio in pixels of the turned picture', () => {
    // 4000×3000 turned is 3000×4000: the largest square is 3000×3000, centred.
    const shown = rotatedSize({ width: 4000, height: 3000 }, 1);
    const c = cropForRatio(1, shown);
    expect(c.x).toBeCloseTo(0, 12);
    expect(c.y).toBeCloseTo(0.125, 12);
    expect(c.width).toBeCloseTo(1, 12);
    expect(c.height).toBeCloseTo(0.75, 12);
    // 16:9 of a 16:9 picture is all of it.
    expect(cropForRatio(16 / 9, { width: 1920, height: 1080 })).toEqual({ x: 0, y: 0, width: 1, height: 1 });
    // 9:16 of a landscape picture: a tall strip, as tall as the picture.
    const strip = cropForRatio(9 / 16, { width: 1920, height: 1080 });
    expect(strip.height).toBe(1);
    expect((strip.width * 1920) / 1080).toBeCloseTo(9 / 16, 12);
  });

  it('stays around the current crop, inside the picture', () => {
    const c = cropForRatio(1, { width: 2000, height: 1000 }, { x: 0.9, y: 0, width: 0.1, height: 1 });
    expect(c.x + c.width).toBeCloseTo(1, 12);
    expect(c.width).toBeCloseTo(0.5, 12);
  });

  it('names ratios, turns them and tells which one a crop has', () => {
    expect(ratioValue('free')).toBeNull();
    expect(ratioValue('4:3')).toBeCloseTo(4 / 3);
    expect(turnedRatio('16:9')).toBe('9:16');
    expect(turnedRatio('3:4')).toBe('4:3');
    expect(turnedRatio('1:1')).toBe('1:1');
    expect(turnedRatio('free')).toBe('free');
    const src = { width: 4000, height: 3000 };
    expect(ratioOf(src, identity())).toBe('4:3');
    expect(ratioOf(src, rotateClockwise(identity()))).toBe('3:4');
    expect(ratioOf(src, { ...identity(), crop: { x: 0, y: 0, width: 0.5, height: 0.9 } })).toBe('free');
  });
});

describe('dragging the crop', () => {
  const inside = (c: CropRect) => {
    expect(c.x).toBeGreaterThanOrEqual(-1e-12);
    expect(c.y).toBeGreaterThanOrEqual(-1e-12);
    expect(c.x + c.width).toBeLessThanOrEqual(1 + 1e-12);
    expect(c.y + c.height).toBeLessThanOrEqual(1 + 1e-12);
    expect(c.width).toBeGreaterThanOrEqual(MIN_CROP - 1e-12);
    expect(c.height).toBeGreaterThanOrEqual(MIN_CROP - 1e-12);
  };

  it('moves inside the picture', () => {
    const c = { x: 0.2, y: 0.2, width: 0.5, height: 0.5 };
    expect(moveCrop(c, 0.1, -0.1)).toEqual({ ...c, x: 0.30000000000000004, y: 0.1 });
    expect(moveCrop(c, 5, 5)).toEqual({ ...c, x: 0.5, y: 0.5 });
    expect(moveCrop(c, -5, -5)).toEqual({ ...c, x: 0, y: 0 });
  });

  it('resizes from a corner while the opposite corner stays, never outside nor too small', () => {
    const rnd = random(4);
    const opposite: Record<Corner, (c: CropRect) => Point> = {
      nw: (c) => ({ x: c.x + c.width, y: c.y + c.height }),
      ne: (c) => ({ x: c.x, y: c.y + c.height }),
      sw: (c) => ({ x: c.x + c.width, y: c.y }),
      se: (c) => ({ x: c.x, y: c.y }),
    };
    for (let i = 0; i < 500; i++) {
      const width = 0.1 + rnd() * 0.8;
      const height = 0.1 + rnd() * 0.8;
      const c = { x: rnd() * (1 - width), y: rnd() * (1 - height), width, height };
      const corner = (['nw', 'ne', 'sw', 'se'] as const)[i % 4];
      const r = resizeCrop(c, corner, (rnd() - 0.5) * 3, (rnd() - 0.5) * 3);
      inside(r);
      close(opposite[corner](r), opposite[corner](c), 12);
    }
  });

  it('keeps a chosen ratio in pixels while resizing', () => {
    const rnd = random(5);
    const shown: Size = { width: 3000, height: 2000 };
    for (const ratio of [1, 4 / 3, 3 / 4, 16 / 9, 9 / 16]) {
      for (let i = 0; i < 100; i++) {
        const start = cropForRatio(ratio, shown);
        const small = resizeCrop(start, 'se', -0.5, -0.5, ratio, shown);
        const corner = (['nw', 'ne', 'sw', 'se'] as const)[i % 4];
        const r = resizeCrop(small, corner, (rnd() - 0.5) * 2, (rnd() - 0.5) * 2, ratio, shown);
        inside(r);
        expect((r.width * shown.width) / (r.height * shown.height)).toBeCloseTo(ratio, 9);
      }
    }
  });

  it('follows the corner: dragging out grows the crop, dragging in shrinks it', () => {
    const c = { x: 0.25, y: 0.25, width: 0.5, height: 0.5 };
    expect(resizeCrop(c, 'se', 0.1, 0.05)).toEqual({ x: 0.25, y: 0.25, width: 0.6, height: 0.55 });
    const nw = resizeCrop(c, 'nw', 0.1, 0.1);
    expect(nw.x).toBeCloseTo(0.35, 12);
    expect(nw.width).toBeCloseTo(0.4, 12);
  });
});

describe('what is sent', () => {
  it('sends no crop for the whole picture, and keeps numbers in range', () => {
    expect(normalize({ ...identity(), crop: { x: 0, y: 0, width: 1, height: 1 } }).crop).toBeNull();
    expect(normalize({ ...identity(), crop: { x: 1e-17, y: 0, width: 0.99999999, height: 1.0000000001 } }).crop).toBeNull();
    const c = normalize({ ...identity(), crop: { x: 0.7000000001, y: -1e-12, width: 0.3000000001, height: 0.5 } }).crop!;
    expect(c.x + c.width).toBeLessThanOrEqual(1);
    expect(c.y).toBe(0);
    expect(normalize({ ...identity(), rotate: 7 }).rotate).toBe(3);
  });

  it('drops blank texts, trims the others and keeps them on the picture', () => {
    const e = normalize({
      ...identity(),
      texts: [
        { text: '   ', color: '#ffffff', x: 0.5, y: 0.5, size: 0.1 },
        { text: ' Hello ', color: '#FF3B30', x: 1.2, y: -0.1, size: 3 },
        { text: 'x', color: 'red', x: 0.5, y: 0.5, size: 0.1 },
      ],
    });
    expect(e.texts).toEqual([
      { text: 'Hello', color: '#ff3b30', x: 1, y: 0, size: TEXT_MAX },
      { text: 'x', color: '#ffffff', x: 0.5, y: 0.5, size: 0.1 },
    ]);
    expect(isIdentity({ ...identity(), texts: [{ text: ' ', color: '#000000', x: 0, y: 0, size: 0.1 }] })).toBe(true);
    expect(isIdentity({ ...identity(), flip: true })).toBe(false);
  });
});

describe('showing the edits with CSS', () => {
  /** Where a point of the original lands in the frame, by applying the CSS placement and transform. */
  function throughCss(e: PhotoEdits, source: Size, p: Point): Point {
    const frame = finalSize(source, e);
    const l = frameLayout(e, source);
    const left = (l.left / 100) * frame.width;
    const top = (l.top / 100) * frame.height;
    const w = (l.width / 100) * frame.width;
    const h = (l.height / 100) * frame.height;
    // Relative to the image's centre (CSS transform-origin: 50% 50%).
    let dx = p.x * w - w / 2;
    let dy = p.y * h - h / 2;
    const turns = Number(/rotate\((\d+)deg\)/.exec(l.transform)![1]) / 90;
    for (let i = 0; i < turns; i++) [dx, dy] = [-dy, dx]; // CSS rotate(90deg): clockwise
    if (l.transform.startsWith('scaleX(-1)')) dx = -dx;
    return { x: (left + w / 2 + dx) / frame.width, y: (top + h / 2 + dy) / frame.height };
  }

  it('the frame shows exactly what the core will make', () => {
    const rnd = random(6);
    for (let i = 0; i < 300; i++) {
      const e = randomEdits(rnd);
      const source = { width: 100 + Math.floor(rnd() * 4000), height: 100 + Math.floor(rnd() * 4000) };
      for (const p of corners) close(throughCss(e, source, p), toFinal(e, p), 6);
    }
  });

  it('an unedited picture fills its frame', () => {
    expect(frameLayout(identity(), { width: 400, height: 300 })).toEqual({
      left: 0,
      top: 0,
      width: 100,
      height: 100,
      transform: 'rotate(0deg)',
    });
  });
});

describe('video trim', () => {
  it('sends nothing when nothing changed, and null for an end that was not moved', () => {
    expect(videoEdits(0, 10_000, 10_000, false)).toBeNull();
    expect(videoEdits(0, 10_000, 10_000, true)).toEqual({ trim_start_ms: null, trim_end_ms: null, mute: true });
    expect(videoEdits(1500.4, 10_000, 10_000, false)).toEqual({ trim_start_ms: 1500, trim_end_ms: null, mute: false });
    expect(videoEdits(0, 8000, 10_000, false)).toEqual({ trim_start_ms: null, trim_end_ms: 8000, mute: false });
  });

  it('keeps the handles in order, half a second apart, inside the video', () => {
    const t = { start: 1000, end: 5000 };
    expect(moveTrim('start', 4900, t, 10_000)).toEqual({ start: 4500, end: 5000 });
    expect(moveTrim('start', -20, t, 10_000)).toEqual({ start: 0, end: 5000 });
    expect(moveTrim('end', 1200, t, 10_000)).toEqual({ start: 1000, end: 1500 });
    expect(moveTrim('end', 99_000, t, 10_000)).toEqual({ start: 1000, end: 10_000 });
  });
});
