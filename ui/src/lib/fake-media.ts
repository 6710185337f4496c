// Test helpers: jsdom has no media playback, no blob URLs and no PointerEvent. These fakes
// behave like a browser where the tests look (paused, play/pause events, blob types).
import { vi, type Mock } from 'vitest';

export type FakeMedia = {
  /** What canPlayType answers for Ogg Opus ('' like old Apple WebKit, 'probably' elsewhere). */
  canPlay: string;
  /** Every Blob turned into an object URL, in order. */
  blobs: Blob[];
  play: Mock<(el: HTMLMediaElement) => void>;
  pause: Mock<(el: HTMLMediaElement) => void>;
};

const pausedFlag = new WeakMap<HTMLMediaElement, boolean>();

export function installFakeMedia(): FakeMedia {
  const media: FakeMedia = {
    canPlay: 'probably',
    blobs: [],
    play: vi.fn<(el: HTMLMediaElement) => void>(),
    pause: vi.fn<(el: HTMLMediaElement) => void>(),
  };
  const proto = HTMLMediaElement.prototype;
  Object.defineProperty(proto, 'paused', {
    configurable: true,
    get(this: HTMLMediaElement) {
      return pausedFlag.get(this) ?? true;
    },
  });
  proto.play = function (this: HTMLMediaElement) {
    media.play(this);
    pausedFlag.set(this, false);
    this.dispatchEvent(new Event('play'));
    return Promise.resolve();
  };
  proto.pause = function (this: HTMLMediaElement) {
    media.pause(this);
    const was = pausedFlag.get(this) === false;
    pausedFlag.set(this, true);
    if (was) this.dispatchEvent(new Event('pause'));
  };
  proto.load = function () {};
  proto.canPlayType = (type: string) => (type.startsWith('audio/ogg') ? (media.canPlay as CanPlayTypeResult) : '');
  URL.createObjectURL = (b: Blob | MediaSource) => {
    media.blobs.push(b as Blob);
    return `blob:fake/${media.blobs.length}`;
  };
  URL.revokeObjectURL = () => {};
  if (typeof globalThis.PointerEvent !== 'function') {
    class FakePointerEvent extends MouseEvent {
      readonly pointerId: number;
      readonly pointerType: string;
      constructor(type: string, init: PointerEventInit = {}) {
        super(type, init);
        this.pointerId = init.pointerId ?? 1;
        this.pointerType = init.pointerType ?? 'mouse';
      }
    }
    globalThis.PointerEvent = FakePointerEvent as unknown as typeof PointerEvent;
  }
  return media;
}

/** Ends playback of `audio` as a browser does: paused, then `ended`. */
export function endPlayback(audio: HTMLMediaElement) {
  pausedFlag.set(audio, true);
  audio.dispatchEvent(new Event('pause'));
  audio.dispatchEvent(new Event('ended'));
}
