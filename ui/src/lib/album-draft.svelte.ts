// The album being put together in a chat's composer: staged items in order (picked, dropped,
// pasted or captured), their edits, the caption and the HD choice. The core prepares files
// and decides what it accepts; this keeps the tray's order, the 9-item limit and the drafts.
// One draft per chat, kept while the app runs, so switching chats does not lose a tray.
// A video the core could not decode gets its poster from the web view's player afterwards.
import { commands, messageOf, onCoreEvent, unwrap } from './api';
import type { AlbumItemDraft, MessageView, PhotoEdits, StageResult, StagedMedia, VideoEdits } from './bindings';
import { ALBUM_MAX_ITEMS } from './album-layout';
import { identity, normalize } from './edits';
import { makePoster, wantsPoster, type Poster } from './poster';

/** Longest caption, in characters (the core checks it too). */
export const CAPTION_MAX_CHARS = 1000;
/** The counter shows from here on. */
export const CAPTION_COUNTER_FROM = 900;
export const LIMIT_MESSAGE = `You can send up to ${ALBUM_MAX_ITEMS} photos and videos at once`;

export type TrayItem = {
  /** Stable for the tray's keyed list: the staged id, or a placeholder's while it is prepared. */
  key: string;
  name: string;
  /** The prepared item; null while it is prepared or when it was refused. */
  staged: StagedMedia | null;
  /** Why the core refused the file. */
  error: string | null;
  edits: PhotoEdits;
  video: VideoEdits | null;
  /** A video's first frame as the web view drew it (a blob: address), shown in its tile. */
  poster: string | null;
};

let nextKey = 0;

/** Tells the core a prepared file is not wanted; nothing for the user to act on if it fails. */
function unstage(id: string) {
  unwrap(commands.mediaUnstage(id)).catch((e) => console.warn('unstage:', messageOf(e)));
}

function forgetPoster(item: TrayItem) {
  if (item.poster) URL.revokeObjectURL(item.poster);
}

export class AlbumDraft {
  items = $state.raw<TrayItem[]>([]);
  caption = $state('');
  hd = $state(false);
  /** Files being prepared, from the core's `staged` events (null when none are). */
  progress = $state<{ done: number; total: number } | null>(null);
  /** Files refused because the album was full. */
  notice = $state('');
  /** Staging or sending failed as a whole. */
  error = $state('');
  sending = $state(false);

  readonly conversationId: string;
  #preparing = 0;
  readonly #poster: (item: StagedMedia) => Promise<Poster | null>;

  /** `poster` makes a poster for a video the core could not decode (tests give a fake). */
  constructor(conversationId: string, poster: (item: StagedMedia) => Promise<Poster | null> = makePoster) {
    this.conversationId = conversationId;
    this.#poster = poster;
  }

  /** Items that will be sent, in order. */
  get ready(): (TrayItem & { staged: StagedMedia })[] {
    return this.items.filter((i): i is TrayItem & { staged: StagedMedia } => i.staged !== null);
  }

  get open(): boolean {
    return this.items.length > 0;
  }

  get pending(): boolean {
    return this.items.some((i) => i.staged === null && i.error === null);
  }

  /** Room left: refused files take none. */
  get room(): number {
    return ALBUM_MAX_ITEMS - this.items.filter((i) => i.error === null).length;
  }

  /** Files picked or dropped: as many as fit are prepared, in order; the rest are refused. */
  async addPaths(paths: string[]) {
    const take = this.#fit(paths.map((p) => p.split(/[\\/]/).pop() || p));
    if (take.length === 0) return;
    const keys = this.#placeholders(take);
    const chosen = paths.slice(0, take.length);
    await this.#stage(keys, async () => unwrap(commands.mediaStage(this.conversationId, chosen, this.hd)));
  }

  /** A pasted image or a camera capture (base64). */
  async addBytes(name: string, base64: string) {
    if (this.#fit([name]).length === 0) return;
    const keys = this.#placeholders([name]);
    await this.#stage(keys, async () => [await unwrap(commands.mediaStageBytes(this.conversationId, name, base64, this.hd))]);
  }

  /** Takes it out of the tray; the core forgets the prepared file. */
  remove(key: string) {
    const item = this.items.find((i) => i.key === key);
    if (!item) return;
    this.items = this.items.filter((i) => i !== item);
    if (this.room > 0) this.notice = '';
    forgetPoster(item);
    if (item.staged) unstage(item.staged.id);
  }

  setEdits(key: string, edits: PhotoEdits, video: VideoEdits | null) {
    this.items = this.items.map((i) => (i.key === key ? { ...i, edits, video } : i));
  }

  /** Empties the tray, forgetting every prepared file. */
  clear() {
    for (const i of this.items) this.remove(i.key);
    this.caption = '';
    this.notice = '';
    this.error = '';
  }

  /** What `sendAlbum` gets: the ready items in order with their edits as the core reads them. */
  drafts(): AlbumItemDraft[] {
    return this.ready.map((i) => ({
      staged_id: i.staged.id,
      edits: normalize(i.edits),
      video: i.staged.kind === 'video' ? i.video : null,
    }));
  }

  /** Sends the album; on success the tray empties (the core keeps the files it queued). */
  async send(): Promise<MessageView | null> {
    const items = this.drafts();
    if (items.length === 0 || this.sending || this.pending || [...this.caption].length > CAPTION_MAX_CHARS) return null;
    this.sending = true;
    this.error = '';
    try {
      const m = await unwrap(commands.sendAlbum(this.conversationId, items, this.caption, this.hd));
      this.items.forEach(forgetPoster);
      this.items = [];
      this.caption = '';
      this.notice = '';
      return m;
    } catch (e) {
      this.error = messageOf(e);
      return null;
    } finally {
      this.sending = false;
    }
  }

  /** The core's progress while it prepares a batch. */
  staged(done: number, total: number) {
    this.progress = this.#preparing > 0 && done < total ? { done, total } : null;
  }

  #fit(names: string[]): string[] {
    const take = names.slice(0, Math.max(0, this.room));
    this.notice = take.length < names.length ? LIMIT_MESSAGE : '';
    return take;
  }

  #placeholders(names: string[]): string[] {
    const made = names.map((name) => ({
      key: `pending-${++nextKey}`,
      name,
      staged: null,
      error: null,
      edits: identity(),
      video: null,
      poster: null,
    }));
    this.items = [...this.items, ...made];
    return made.map((m) => m.key);
  }

  async #stage(keys: string[], call: () => Promise<StageResult[]>) {
    this.#preparing++;
    this.error = '';
    try {
      const results = await call();
      // Removed while it was prepared: the core forgets it too.
      results.forEach((r, i) => {
        if (r?.item && !this.items.some((it) => it.key === keys[i])) unstage(r.item.id);
      });
      this.items = this.items.map((item) => {
        const at = keys.indexOf(item.key);
        if (at < 0) return item;
        const r = results[at];
        if (r?.item) return { ...item, key: r.item.id, name: r.item.name || item.name, staged: r.item };
        return { ...item, error: r?.error?.message ?? 'This file could not be prepared.' };
      });
      for (const r of results) {
        if (r?.item && wantsPoster(r.item) && this.items.some((it) => it.key === r.item?.id)) void this.#addPoster(r.item);
      }
    } catch (e) {
      this.items = this.items.filter((i) => !keys.includes(i.key));
      this.error = messageOf(e);
    } finally {
      this.#preparing--;
      if (this.#preparing === 0) this.progress = null;
    }
  }

  /** Asks the web view for a video's first frame; the item (if still here) shows it. */
  async #addPoster(staged: StagedMedia) {
    const got = await this.#poster(staged);
    if (!got) return;
    const item = this.items.find((i) => i.key === staged.id);
    // Removed or sent meanwhile: nothing to show it in.
    if (!item) return;
    forgetPoster(item);
    const poster = URL.createObjectURL(got.frame);
    this.items = this.items.map((i) => (i === item ? { ...i, staged: got.staged, poster } : i));
  }
}

// A plain Map on purpose: drafts are looked up, never watched (each draft is reactive itself).
// eslint-disable-next-line svelte/prefer-svelte-reactivity
const drafts = new Map<string, AlbumDraft>();
let listening: Promise<unknown> | null = null;

/** The album being put together in a chat (made on first use). */
export function albumDraft(conversationId: string): AlbumDraft {
  let d = drafts.get(conversationId);
  if (!d) {
    d = new AlbumDraft(conversationId);
    drafts.set(conversationId, d);
  }
  listening ??= onCoreEvent((e) => {
    if (e.type === 'staged') drafts.get(e.conversation_id)?.staged(e.done, e.total);
  }).catch((e) => console.warn('album events:', messageOf(e)));
  return d;
}

/** Forgets every chat's album (signing out; tests). */
export function forgetAlbumDrafts() {
  drafts.clear();
}
