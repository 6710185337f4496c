// Posters for staged videos the core could not decode itself (it decodes only H.264; HEVC,
// VP9 and AV1 get a plain placeholder of their shape). The web view's own player often can:
// it draws the first frame to a canvas, and the core takes that frame (checked like any photo,
// in the video's shape) as the video's preview, the thumbnail the recipient sees first, and
// its blurhash. Anything that goes wrong keeps the placeholder; sending never waits for this.
import { commands, messageOf, unwrap } from './api';
import type { StagedMedia } from './bindings';
import { blobToBase64, stagedUrl } from './media';

/** Longest wait for a frame (a player that cannot decode the video may never say so). */
export const POSTER_TIMEOUT_MS = 8000;
/** A frame just after the start: seeking there makes every engine paint one (WebKit may not at 0). */
const SEEK_TO_S = 0.05;
const JPEG_QUALITY = 0.85;

/** A video frame as the page drew it. */
export type Frame = { blob: Blob; width: number; height: number };

/** The browser parts, given by tests as fakes (jsdom has neither playback nor a canvas). */
export type FrameDom = {
  video: () => HTMLVideoElement;
  canvas: () => HTMLCanvasElement;
};

const browserDom: FrameDom = {
  video: () => document.createElement('video'),
  canvas: () => document.createElement('canvas'),
};

/** Resolves on `event`; rejects on the element's `error` event. */
function next(video: HTMLVideoElement, event: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      video.removeEventListener(event, ok);
      video.removeEventListener('error', failed);
    };
    const ok = () => (done(), resolve());
    const failed = () => {
      done();
      const why = video.error?.message || (video.error ? `media error ${video.error.code}` : 'it did not load');
      reject(new Error(`the player cannot decode this video: ${why}`));
    };
    video.addEventListener(event, ok);
    video.addEventListener('error', failed);
  });
}

/**
 * The first picture of the video at `url`, as the platform's player decodes it: loaded into
 * an off-screen, muted `<video>`, drawn at its full display size (rotation applied by the
 * player) and encoded as JPEG. Rejects on a load error, a picture the page may not read, or
 * after `timeoutMs`.
 */
export async function grabFrame(url: string, dom: FrameDom = browserDom, timeoutMs = POSTER_TIMEOUT_MS): Promise<Frame> {
  const video = dom.video();
  video.muted = true;
  video.playsInline = true;
  video.setAttribute('playsinline', '');
  video.preload = 'auto';
  // The scheme allows the app's origin: without this the canvas could not be read back.
  video.crossOrigin = 'anonymous';
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no frame within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  const grab = async (): Promise<Frame> => {
    const loaded = next(video, 'loadeddata');
    video.src = url;
    video.load();
    await loaded;
    const end = Number.isFinite(video.duration) && video.duration > 0 ? video.duration / 2 : SEEK_TO_S;
    const seeked = next(video, 'seeked');
    video.currentTime = Math.min(SEEK_TO_S, end);
    await seeked;
    const { videoWidth: width, videoHeight: height } = video;
    if (width <= 0 || height <= 0) throw new Error('the player shows no picture for this video');
    const canvas = dom.canvas();
    canvas.width = width;
    canvas.height = height;
    const g = canvas.getContext('2d');
    if (!g) throw new Error('no canvas to draw on');
    g.drawImage(video, 0, 0, width, height);
    // Throws (SecurityError) when the page may not read the picture back.
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/jpeg', JPEG_QUALITY));
    if (!blob) throw new Error('the frame could not be encoded');
    return { blob, width, height };
  };
  try {
    return await Promise.race([grab(), timeout]);
  } finally {
    clearTimeout(timer);
    // Lets the player go (and its decoder) at once.
    video.removeAttribute('src');
    video.load();
  }
}

export type PosterDeps = {
  grab: (url: string) => Promise<Frame>;
  setPoster: (id: string, base64: string) => Promise<StagedMedia>;
};

const appDeps: PosterDeps = {
  grab: (url) => grabFrame(url),
  setPoster: (id, base64) => unwrap(commands.mediaSetPoster(id, base64)),
};

/** A staged video with the poster the core took, and the frame itself to show meanwhile. */
export type Poster = { staged: StagedMedia; frame: Blob };

// One video at a time: nine players decoding at once would only slow each other down.
let queue: Promise<unknown> = Promise.resolve();

/**
 * A poster for a staged video the core could not decode (`placeholder`), or null when the
 * platform cannot decode it either, the core refuses the frame (a wrong shape), or it takes
 * too long: the placeholder stays, with a warning in the console.
 */
export function makePoster(item: StagedMedia, deps: PosterDeps = appDeps): Promise<Poster | null> {
  const run = async (): Promise<Poster | null> => {
    try {
      const frame = await deps.grab(stagedUrl(item.id));
      const staged = await deps.setPoster(item.id, await blobToBase64(frame.blob));
      return { staged, frame: frame.blob };
    } catch (e) {
      console.warn(`no poster for ${item.name}; it keeps its placeholder:`, messageOf(e));
      return null;
    }
  };
  const result = queue.then(run);
  queue = result;
  return result;
}

/** Whether a staged item waits for a poster from the web view. */
export function wantsPoster(item: StagedMedia): boolean {
  return item.kind === 'video' && item.placeholder === true;
}
