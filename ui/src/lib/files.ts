// Files coming into an album from the system: the picker, drag and drop onto the window, and
// images on the clipboard. Paths go to the core as they are; it decides what it can send.
import { getCurrentWebview } from '@tauri-apps/api/webview';
import { open, save } from '@tauri-apps/plugin-dialog';
import { commands, unwrap } from './api';

/** Asks for photos and videos (the native picker, opened by the app); [] when cancelled. */
export async function pickMedia(): Promise<string[]> {
  return unwrap(commands.mediaPick());
}

/** Asks where to save one file; null when the user cancels. */
export async function pickSavePath(defaultPath: string): Promise<string | null> {
  return (await save({ defaultPath })) ?? null;
}

/** Asks for a folder; null when the user cancels. */
export async function pickFolder(): Promise<string | null> {
  const dir = await open({ directory: true, multiple: false });
  return typeof dir === 'string' ? dir : null;
}

/**
 * Calls `hover` while files are dragged over the window and `drop` with their paths when they
 * are dropped. Outside the app (tests, a plain browser) nothing is dropped; returns the
 * function that stops listening.
 */
export async function onFileDrop(hover: (over: boolean) => void, drop: (paths: string[]) => void): Promise<() => void> {
  try {
    return await getCurrentWebview().onDragDropEvent((e) => {
      const p = e.payload;
      if (p.type === 'enter') hover(p.paths.length > 0);
      else if (p.type === 'leave') hover(false);
      else if (p.type === 'drop') {
        hover(false);
        if (p.paths.length > 0) drop(p.paths);
      }
    });
  } catch {
    return () => {};
  }
}

/**
 * The images on a paste's clipboard with the names they are staged under (none for a text
 * paste): their own, or "pasted-20250601140500.png" for the browser's generic "image.png".
 */
export function pastedFiles(e: ClipboardEvent): { name: string; file: File }[] {
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  return pastedImages(e).map((f, i) => {
    const ext = f.type.split('/')[1]?.replace('jpeg', 'jpg') || 'png';
    const name = f.name && f.name !== 'image.png' ? f.name : `pasted-${stamp}${i ? `-${i + 1}` : ''}.${ext}`;
    return { name, file: f };
  });
}

/** The images on a paste's clipboard (none for a text paste). */
export function pastedImages(e: ClipboardEvent): File[] {
  const items = e.clipboardData?.items;
  if (!items) return [];
  const files: File[] = [];
  for (const item of items) {
    if (item.kind !== 'file' || !item.type.startsWith('image/')) continue;
    const f = item.getAsFile();
    if (f) files.push(f);
  }
  return files;
}
