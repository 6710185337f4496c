// What this device does differently, as the Rust side decides it (src-tauri/src/platform):
// phones take photos with the system's camera screen, and Android lets the web view ask for
// the microphone, since that is what shows the system prompt the native recorder needs too.
import { commands, type PlatformInfo } from './bindings';

const DESKTOP: PlatformInfo = { platform: 'desktop', system_camera_accept: null, ask_microphone_in_web_view: false };

let known: Promise<PlatformInfo> | null = null;

/** This device's platform info, asked once (the desktop's where it cannot be asked). */
export function platformInfo(): Promise<PlatformInfo> {
  known ??= (async () => {
    try {
      return (await commands.platformInfo()) ?? DESKTOP;
    } catch {
      return DESKTOP;
    }
  })();
  return known;
}

/** Forgets what was asked (tests). */
export function resetPlatformInfo() {
  known = null;
}

/**
 * Android: asks the web view for the microphone and lets it go at once. Android shows its
 * permission prompt for that request, and the native recorder has the permission from then on.
 * Nowhere else does anything. A refusal is left to the recorder, which then says so.
 */
export async function askMicrophone(): Promise<void> {
  if (!(await platformInfo()).ask_microphone_in_web_view) return;
  const media = typeof navigator !== 'undefined' ? navigator.mediaDevices : undefined;
  if (!media?.getUserMedia) return;
  try {
    const stream = await media.getUserMedia({ audio: true });
    stream.getTracks().forEach((t) => t.stop());
  } catch {
    // Refused or no microphone: voiceStart reports it.
  }
}

/**
 * Opens the system's camera screen through a file input with `capture` accepting `accept`;
 * resolves with what was taken, [] when the user backs out.
 */
export function takeWithSystemCamera(accept: string): Promise<File[]> {
  return new Promise((resolve) => {
    const input = document.createElement('input');
    input.type = 'file';
    input.accept = accept;
    input.setAttribute('capture', 'environment');
    input.addEventListener('change', () => resolve([...(input.files ?? [])]), { once: true });
    input.addEventListener('cancel', () => resolve([]), { once: true });
    input.click();
  });
}
