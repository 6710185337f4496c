// The album side of a chat's composer: files coming in (the picker, drops on the window,
// pasted images, the camera), the item open in the editor, and whether the album can go out.
// The tray itself (staging, the 9-item limit, posters, sending) is the chat's AlbumDraft; the
// reminder before media goes out is the composer's, shared with voice notes.
import { messageOf } from './api';
import type { AlbumDraft } from './album-draft.svelte';
import { CAPTION_MAX_CHARS } from './album-draft.svelte';
import type { MessageView, PhotoEdits, VideoEdits } from './bindings';
import { onFileDrop, pastedFiles, pickMedia } from './files';
import { blobToBase64, describeItems } from './media';
import { platformInfo, takeWithSystemCamera } from './platform';

export type AlbumComposerHooks = {
  /** Why media cannot go out in this chat yet (the core's safety rule), or null. */
  blocked: () => string | null;
  /** Tells the user something in the composer's hint line ('' clears it). */
  say: (hint: string) => void;
  /** Puts the cursor in the caption once the tray has shown new items. */
  focusCaption: () => Promise<void>;
};

export class AlbumComposer {
  readonly album: AlbumDraft;
  /** The tray item open in the editor. */
  editing = $state<string | null>(null);
  camera = $state(false);
  /** Files are being dragged over the window. */
  dropping = $state(false);
  readonly #hooks: AlbumComposerHooks;
  /** On a phone, what the system camera is asked for (null: the in-app camera sheet). */
  #systemCamera: string | null = null;

  constructor(album: AlbumDraft, hooks: AlbumComposerHooks) {
    this.album = album;
    this.#hooks = hooks;
    // Known before the camera button is pressed: a file input opens only within the tap.
    void platformInfo().then((p) => (this.#systemCamera = p.system_camera_accept));
  }

  get captionLength(): number {
    return [...this.album.caption].length;
  }

  get captionTooLong(): boolean {
    return this.captionLength > CAPTION_MAX_CHARS;
  }

  get canSend(): boolean {
    const a = this.album;
    return a.ready.length > 0 && !a.pending && !a.sending && !this.captionTooLong;
  }

  /** "3 photos and 1 video": what Send and the reminder name. */
  get what(): string {
    return describeItems(this.album.ready.map((i) => i.staged.kind));
  }

  /** The item open in the editor, while it is still in the tray. */
  get editingItem() {
    return this.album.items.find((i) => i.key === this.editing && i.staged);
  }

  /** Media cannot go out here yet: says why instead of opening anything. */
  #blocked(): boolean {
    const why = this.#hooks.blocked();
    if (why) this.#hooks.say(why);
    return why !== null;
  }

  /** The system's picker. */
  async attach() {
    if (this.#blocked()) return;
    this.#hooks.say('');
    try {
      await this.addPaths(await pickMedia());
    } catch (e) {
      this.#hooks.say(`The file picker could not open: ${messageOf(e)}`);
    }
  }

  async addPaths(paths: string[]) {
    if (paths.length === 0 || this.#blocked()) return;
    const adding = this.album.addPaths(paths);
    await this.#hooks.focusCaption();
    await adding;
  }

  /** A pasted image or a camera capture. */
  async addBlob(name: string, blob: Blob) {
    if (this.#blocked()) return;
    await this.album.addBytes(name, await blobToBase64(blob));
    await this.#hooks.focusCaption();
  }

  openCamera() {
    if (this.#blocked()) return;
    this.#hooks.say('');
    const accept = this.#systemCamera;
    if (accept === null) {
      this.camera = true;
      return;
    }
    takeWithSystemCamera(accept)
      .then((files) => Promise.all(files.map((f) => this.addBlob(f.name, f))))
      .catch((e) => this.#hooks.say(`The camera could not open: ${messageOf(e)}`));
  }

  /** An image pasted into the composer joins the album; text pastes as usual. */
  paste(e: ClipboardEvent) {
    const images = pastedFiles(e);
    if (images.length === 0) return;
    e.preventDefault();
    for (const { name, file } of images) void this.addBlob(name, file);
  }

  /** Files dropped on the window join the album; returns the function that stops listening. */
  listenForDrops(): () => void {
    let stop: (() => void) | null = null;
    let gone = false;
    void onFileDrop(
      (over) => (this.dropping = over),
      (paths) => void this.addPaths(paths),
    ).then((unlisten) => (gone ? unlisten() : (stop = unlisten)));
    return () => {
      gone = true;
      stop?.();
    };
  }

  /** Done in the editor: the item keeps its edits until it is sent. */
  edited(key: string, edits: PhotoEdits, video: VideoEdits | null) {
    this.album.setEdits(key, edits, video);
    this.editing = null;
  }

  /** Sends the album (the composer has asked for the reminder first, when one is due). */
  async send(): Promise<MessageView | null> {
    if (!this.canSend) return null;
    return this.album.send();
  }
}
