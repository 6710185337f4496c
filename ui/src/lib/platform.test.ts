import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PlatformInfo } from './bindings';

// The Rust side decides what each platform does; each test says which device it is.
const api = vi.hoisted(() => ({
  info: null as PlatformInfo | null,
  commands: {
    platformInfo: vi.fn(async () => {
      if (!api.info) throw new Error('not in the app');
      return api.info;
    }),
  },
}));
vi.mock('./bindings', () => ({ commands: api.commands }));

const { askMicrophone, platformInfo, resetPlatformInfo, takeWithSystemCamera } = await import('./platform');

const ANDROID: PlatformInfo = { platform: 'android', system_camera_accept: 'image/*', ask_microphone_in_web_view: true };
const IOS: PlatformInfo = { platform: 'ios', system_camera_accept: 'image/*,video/*', ask_microphone_in_web_view: false };

/** A getUserMedia that hands out one track and remembers whether it was stopped. */
function fakeMicrophone(fail = false) {
  const track = { stop: vi.fn() };
  const getUserMedia = vi.fn(async () => {
    if (fail) throw new DOMException('denied', 'NotAllowedError');
    return { getTracks: () => [track] };
  });
  Object.defineProperty(navigator, 'mediaDevices', { value: { getUserMedia }, configurable: true });
  return { getUserMedia, track };
}

afterEach(() => {
  api.info = null;
  resetPlatformInfo();
  vi.restoreAllMocks();
});

describe('platform', () => {
  it('is the desktop where the app cannot be asked, and asks only once', async () => {
    expect((await platformInfo()).platform).toBe('desktop');
    api.info = IOS;
    expect((await platformInfo()).platform).toBe('desktop');
    resetPlatformInfo();
    expect(await platformInfo()).toEqual(IOS);
    await platformInfo();
    expect(api.commands.platformInfo).toHaveBeenCalledTimes(2);
  });

  it('lets the web view ask for the microphone on Android only, and releases it at once', async () => {
    const mic = fakeMicrophone();
    api.info = IOS;
    await askMicrophone();
    expect(mic.getUserMedia).not.toHaveBeenCalled();

    resetPlatformInfo();
    api.info = ANDROID;
    await askMicrophone();
    expect(mic.getUserMedia).toHaveBeenCalledWith({ audio: true });
    expect(mic.track.stop).toHaveBeenCalled();
  });

  it('leaves a refused microphone to the recorder', async () => {
    const mic = fakeMicrophone(true);
    api.info = ANDROID;
    await expect(askMicrophone()).resolves.toBeUndefined();
    expect(mic.getUserMedia).toHaveBeenCalled();
  });

  it('opens the system camera through a capturing file input and returns what it took', async () => {
    const click = vi.spyOn(HTMLInputElement.prototype, 'click').mockImplementation(function (this: HTMLInputElement) {
      const photo = new File(['jpeg'], 'IMG_0001.jpg', { type: 'image/jpeg' });
      Object.defineProperty(this, 'files', { value: [photo] });
      this.dispatchEvent(new Event('change'));
    });
    const files = await takeWithSystemCamera('image/*,video/*');
    expect(files.map((f) => f.name)).toEqual(['IMG_0001.jpg']);
    const input = click.mock.contexts[0] as HTMLInputElement;
    expect(input.type).toBe('file');
    expect(input.accept).toBe('image/*,video/*');
    expect(input.getAttribute('capture')).toBe('environment');
  });

  it('returns nothing when the camera is backed out of', async () => {
    vi.spyOn(HTMLInputElement.prototype, 'click').mockImplementation(function (this: HTMLInputElement) {
      this.dispatchEvent(new Event('cancel'));
    });
    expect(await takeWithSystemCamera('image/*')).toEqual([]);
  });
});
