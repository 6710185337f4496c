import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StagedMedia } from './bindings';

// The Tauri bridge is the edge: the core's answer to a poster is given per test.
vi.mock('./bindings', () => ({ commands: {}, events: {} }));

const { CommandError } = await import('./api');
const { blobToBase64 } = await import('./media');
const { grabFrame, makePoster, wantsPoster, POSTER_TIMEOUT_MS } = await import('./poster');

/**
 * An off-screen player as a browser gives it, scripted: `loads` says what happens once a
 * source is set (a frame, a decode error, or nothing ever), and seeking lands at once.
 */
class FakeVideo extends EventTarget {
  muted = false;
  playsInline = false;
  preload = '';
  crossOrigin: string | null = null;
  duration = NaN;
  videoWidth = 0;
  videoHeight = 0;
  error: { code: number; message: string } | null = null;
  seekedTo: number[] = [];
  attributes = new Map<string, string>();
  #src = '';
  constructor(
    readonly loads: 'frame' | 'error' | 'never',
    readonly size = { width: 1920, height: 1080 },
  ) {
    super();
  }
  get src() {
    return this.#src;
  }
  set src(v: string) {
    this.#src = v;
  }
  setAttribute(name: string, value: string) {
    this.attributes.set(name, value);
  }
  removeAttribute(name: string) {
    if (name === 'src') this.#src = '';
  }
  load() {
    if (!this.#src) return;
    setTimeout(() => {
      if (this.loads === 'frame') {
        this.duration = 12;
        this.videoWidth = this.size.width;
        this.videoHeight = this.size.height;
        this.dispatchEvent(new Event('loadeddata'));
      } else if (this.loads === 'error') {
        this.error = { code: 4, message: 'unsupported codec' };
        this.dispatchEvent(new Event('error'));
      }
    }, 0);
  }
  set currentTime(t: number) {
    this.seekedTo.push(t);
    setTimeout(() => this.dispatchEvent(new Event('seeked')), 0);
  }
}

/** A canvas that records what was drawn; `tainted` refuses to be read back, as a browser does. */
function fakeCanvas(tainted = false) {
  const drawn: unknown[][] = [];
  const canvas = {
    width: 0,
    height: 0,
    getContext: () => ({ drawImage: (...args: unknown[]) => drawn.push(args) }),
    toBlob: vi.fn((done: (b: Blob | null) => void, type: string) => {
      if (tainted) throw new DOMException('The canvas has been tainted by cross-origin data.', 'SecurityError');
      done(new Blob(['frame'], { type }));
    }),
  };
  return { canvas, drawn };
}

function dom(video: FakeVideo, canvas = fakeCanvas().canvas) {
  return {
    video: () => video as unknown as HTMLVideoElement,
    canvas: () => canvas as unknown as HTMLCanvasElement,
  };
}

function staged(extra: Partial<StagedMedia> = {}): StagedMedia {
  return {
    id: 'v1',
    name: 'clip.mov',
    kind: 'video',
    width: 1920,
    height: 1080,
    duration_ms: 12_000,
    size: 1000,
    blurhash: 'L00000fQfQfQfQfQfQfQfQfQfQfQ',
    placeholder: true,
    explicit: false,
    ...extra,
  };
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('grabbing the first frame in the web view', () => {
  it('draws the frame just after the start at the full size and encodes it as JPEG', async () => {
    const video = new FakeVideo('frame');
    const { canvas, drawn } = fakeCanvas();
    const frame = await grabFrame('natter-media://localhost/staged%2Fv1', dom(video, canvas));

    expect(frame).toMatchObject({ width: 1920, height: 1080 });
    expect(frame.blob.type).toBe('image/jpeg');
    expect([canvas.width, canvas.height]).toEqual([1920, 1080]);
    expect(drawn).toEqual([[video, 0, 0, 1920, 1080]]);
    expect(canvas.toBlob).toHaveBeenCalledWith(expect.any(Function), 'image/jpeg', 0.85);
    expect(video.seekedTo).toEqual([0.05]);
    // Muted, inline, and asking the scheme for permission to read the pixels back.
    expect(video.muted).toBe(true);
    expect(video.attributes.get('playsinline')).toBe('');
    expect(video.crossOrigin).toBe('anonymous');
    // The player lets the file go afterwards.
    expect(video.src).toBe('');
  });

  it('fails when the player cannot decode the video either', async () => {
    const video = new FakeVideo('error');
    await expect(grabFrame('u', dom(video))).rejects.toThrow('the player cannot decode this video: unsupported codec');
    expect(video.src).toBe('');
  });

  it('gives up after the timeout when the player never shows a frame', async () => {
    vi.useFakeTimers();
    const video = new FakeVideo('never');
    const grabbing = grabFrame('u', dom(video));
    const failed = expect(grabbing).rejects.toThrow('no frame within 8 s');
    await vi.advanceTimersByTimeAsync(POSTER_TIMEOUT_MS - 1);
    expect(video.src).toBe('u');
    await vi.advanceTimersByTimeAsync(1);
    await failed;
    expect(video.src).toBe('');
  });

  it('fails when the page may not read the picture back', async () => {
    const video = new FakeVideo('frame');
    await expect(grabFrame('u', dom(video, fakeCanvas(true).canvas))).rejects.toThrow('tainted');
  });

  it('fails on a player that reports no picture size', async () => {
    const video = new FakeVideo('frame', { width: 0, height: 0 });
    await expect(grabFrame('u', dom(video))).rejects.toThrow('no picture');
  });
});

describe('posters for videos the core could not decode', () => {
  const frame = () => ({ blob: new Blob(['jpeg bytes'], { type: 'image/jpeg' }), width: 1920, height: 1080 });

  it('are asked for only by placeholder videos', () => {
    expect(wantsPoster(staged())).toBe(true);
    expect(wantsPoster(staged({ placeholder: false }))).toBe(false);
    expect(wantsPoster(staged({ kind: 'image', placeholder: false }))).toBe(false);
  });

  it('hand the staged video’s frame to the core and return what it made of it', async () => {
    const f = frame();
    const updated = staged({ placeholder: false, blurhash: 'LEHV6nWB2yk8pyo0adR*.7kCMdnj' });
    const grab = vi.fn(async () => f);
    const setPoster = vi.fn(async () => updated);
    const got = await makePoster(staged(), { grab, setPoster });

    expect(grab).toHaveBeenCalledWith('natter-media://localhost/staged%2Fv1');
    expect(setPoster).toHaveBeenCalledWith('v1', await blobToBase64(f.blob));
    expect(got).toEqual({ staged: updated, frame: f.blob });
  });

  it('keep the placeholder when the core refuses the frame (a wrong shape)', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const setPoster = vi.fn(async (): Promise<StagedMedia> => {
      throw new CommandError({ code: 'invalid_image', message: 'the poster is 1080×1920 but the video is 1920×1080' });
    });
    const got = await makePoster(staged(), { grab: async () => frame(), setPoster });

    expect(got).toBeNull();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('clip.mov'), 'the poster is 1080×1920 but the video is 1920×1080');
  });

  it('keep the placeholder when the platform cannot decode it, without asking the core', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const setPoster = vi.fn(async () => staged());
    const got = await makePoster(staged(), {
      grab: (url) => grabFrame(url, dom(new FakeVideo('error'))),
      setPoster,
    });
    expect(got).toBeNull();
    expect(setPoster).not.toHaveBeenCalled();
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('are made one video at a time', async () => {
    const order: string[] = [];
    let release = () => {};
    const first = new Promise<void>((r) => (release = r));
    const grab = vi.fn(async (url: string) => {
      order.push(`start ${url.slice(-2)}`);
      if (url.endsWith('v1')) await first;
      order.push(`end ${url.slice(-2)}`);
      return frame();
    });
    const setPoster = vi.fn(async (id: string) => staged({ id, placeholder: false }));
    const a = makePoster(staged({ id: 'v1' }), { grab, setPoster });
    const b = makePoster(staged({ id: 'v2' }), { grab, setPoster });
    await new Promise((r) => setTimeout(r, 0));
    expect(order).toEqual(['start v1']);
    release();
    await Promise.all([a, b]);
    expect(order).toEqual(['start v1', 'end v1', 'start v2', 'end v2']);
  });
});
