// Application state, kept in step with the core through its event stream. No business rules
// here: every decision (validation, ordering, ticks, unread counts) comes from Rust.
import type {
  Account,
  ApiError,
  ConnectionState,
  ConversationView,
  CoreEvent,
  MessageView,
} from './bindings';
import { commands, onCoreEvent, unwrap } from './api';
import { forgetAlbumDrafts } from './album-draft.svelte';
import { forgetRevealed } from './safety.svelte';
import { mergeNewest, upsertMessage } from './format';

export const PAGE = 50;
/** Most messages kept on screen at once; older and newer ones page in and out on scrolling,
 * so a chat with 10,000 messages costs the same to render as one with 200. */
export const WINDOW = 200;
const TYPING_SHOWS_MS = 5000;

export class ChatState {
  account = $state<Account | null>(null);
  /** Why this account has no direct messages (under 16), from the core's rule; null if it has. */
  dmBlocked = $state<ApiError | null>(null);
  serverUrl = $state('');
  /** Whether this profile has a server yet (a packaged app asks at first start). */
  serverChosen = $state(true);
  conversations = $state.raw<ConversationView[]>([]);
  openId = $state<string | null>(null);
  /** Messages of the open conversation, ordered by sort_key (a window of the newest pages). */
  messages = $state.raw<MessageView[]>([]);
  /** Whether older messages may exist above the loaded ones. */
  hasOlder = $state(true);
  /** Whether newer messages exist below the loaded ones (the reader is back in history). */
  hasNewer = $state(false);
  connection = $state<ConnectionState>('connecting');
  /** conversation id → who is typing and until when. */
  typing = $state.raw<Record<string, { username: string; until: number }>>({});
  ready = $state(false);
  /** message id → bytes of its voice note uploaded so far, while it is being sent. */
  uploads = $state.raw<Record<string, { sent: number; total: number }>>({});
  /** media id → bytes of an album item uploaded so far, from live events while it is sent. */
  mediaUploads = $state.raw<Record<string, { sent: number; total: number }>>({});
  /** Unsent text per chat, so switching chats never carries a draft into the wrong one. */
  drafts: Record<string, string> = {};

  #unlisten: (() => void) | null = null;
  #loading = false;
  /** Counts connection events, so a late answer to `connection()` never overwrites a newer one. */
  #connectionEvents = 0;
  /** Counts conversation events, so a list read that started before one is not applied. */
  #listEpoch = 0;

  open = $derived(this.conversations.find((c) => c.id === this.openId) ?? null);
  /** The main list: everything but message requests (the core lists both together). */
  chats = $derived(this.conversations.filter((c) => !c.request));
  /** Message requests: started by someone this account never wrote to; never counted unread. */
  requests = $derived(this.conversations.filter((c) => c.request));
  /** Which list the side panel shows; the requests only while there are some. */
  listMode = $state<'chats' | 'requests'>('chats');
  showingRequests = $derived(this.listMode === 'requests' && this.requests.length > 0);

  async init() {
    this.#unlisten = await onCoreEvent((e) => this.apply(e));
    this.serverUrl = await unwrap(commands.serverUrl());
    this.serverChosen = await unwrap(commands.serverChosen());
    this.account = await unwrap(commands.session());
    if (this.account) this.dmBlocked = await unwrap(commands.dmBlocked());
    await this.syncConnection();
    if (this.account && !this.dmBlocked) await this.refreshList();
    this.ready = true;
  }

  dispose() {
    this.#unlisten?.();
  }

  /** After a sign-up or log-in (on `server`, now this profile's remembered server). */
  async signedIn(account: Account, server?: string) {
    this.account = account;
    this.serverChosen = true;
    if (server) this.serverUrl = server;
    this.dmBlocked = await unwrap(commands.dmBlocked());
    if (this.dmBlocked) return;
    await this.syncConnection();
    await this.refreshList();
  }

  /** Asks for the connection state (events sent before this page listened were missed). */
  async syncConnection() {
    const seen = this.#connectionEvents;
    const state = await unwrap(commands.connection());
    if (this.#connectionEvents === seen) this.connection = state;
  }

  async logout() {
    await unwrap(commands.logout());
    forgetAlbumDrafts();
    forgetRevealed();
    this.account = null;
    this.dmBlocked = null;
    this.conversations = [];
    this.openId = null;
    this.messages = [];
  }

  /** Re-reads the list. If a conversation event arrived meanwhile, the answer may predate
   * it (a race that once left a read chat showing "1 unread"), so it reads again. */
  async refreshList() {
    for (;;) {
      const epoch = this.#listEpoch;
      const list = await unwrap(commands.conversations());
      if (epoch === this.#listEpoch) {
        this.conversations = list;
        return;
      }
    }
  }

  async openConversation(id: string | null) {
    this.openId = id;
    this.messages = [];
    this.hasOlder = true;
    this.hasNewer = false;
    if (!id) return;
    const page = await unwrap(commands.messages(id, null, PAGE));
    if (this.openId !== id) return;
    this.messages = page;
    this.hasOlder = page.length === PAGE;
    await this.markRead();
  }

  /** Loads the page above the oldest loaded message; returns how many arrived. */
  async loadOlder(): Promise<number> {
    const id = this.openId;
    if (!id || !this.hasOlder || this.#loading || this.messages.length === 0) return 0;
    this.#loading = true;
    try {
      const page = await unwrap(commands.messages(id, this.messages[0].sort_key, PAGE));
      if (this.openId !== id) return 0;
      this.hasOlder = page.length === PAGE;
      const merged = [...page, ...this.messages];
      if (merged.length > WINDOW) {
        this.messages = merged.slice(0, WINDOW);
        this.hasNewer = true;
      } else {
        this.messages = merged;
      }
      return page.length;
    } finally {
      this.#loading = false;
    }
  }

  /** Loads the page below the newest loaded message (scrolling back down); returns how many. */
  async loadNewer(): Promise<number> {
    const id = this.openId;
    const newest = this.messages.at(-1);
    if (!id || !this.hasNewer || this.#loading || !newest) return 0;
    this.#loading = true;
    try {
      const page = await unwrap(commands.messagesAfter(id, newest.sort_key, PAGE));
      if (this.openId !== id) return 0;
      this.hasNewer = page.length === PAGE;
      this.messages = this.#trimTop([...this.messages, ...page]);
      return page.length;
    } finally {
      this.#loading = false;
    }
  }

  #trimTop(list: MessageView[]): MessageView[] {
    if (list.length <= WINDOW) return list;
    this.hasOlder = true;
    return list.slice(list.length - WINDOW);
  }

  /** Marks the open chat read; never a message request, whose sender learns nothing (no read
   * ticks) until it is accepted. */
  async markRead() {
    const c = this.open;
    if (!c || c.request || typeof document === 'undefined' || document.visibilityState !== 'visible') return;
    await unwrap(commands.markRead(c.id));
  }

  async send(text: string) {
    const id = this.openId;
    if (!id) return;
    const m = await unwrap(commands.sendText(id, text));
    await this.sent(m);
  }

  /** Shows a message this account just queued (text, or a voice note from the composer). */
  async sent(m: MessageView) {
    if (this.openId !== m.conversation_id) return;
    // Writing while reading old history: jump to the newest messages, like every messenger.
    if (this.hasNewer) await this.openConversation(m.conversation_id);
    else this.messages = this.#trimTop(upsertMessage(this.messages, m));
  }

  setDraft(id: string, text: string) {
    if (text) this.drafts[id] = text;
    else delete this.drafts[id];
  }

  typingIn(id: string): string | null {
    const t = this.typing[id];
    return t && t.until > Date.now() ? t.username : null;
  }

  /** Applies one event from the core. */
  apply(e: CoreEvent) {
    switch (e.type) {
      case 'message': {
        const m = e.message;
        if (m.conversation_id === this.openId) {
          const beyond = this.hasNewer && m.sort_key > (this.messages.at(-1)?.sort_key ?? 0);
          // While the reader is back in history, new messages wait below until scrolled to.
          if (!beyond) this.messages = this.#trimTop(upsertMessage(this.messages, m));
          if (!m.mine) void this.markRead();
        }
        if (!m.mine) this.clearTyping(m.conversation_id);
        if (m.status !== 'sending') {
          this.#uploadDone(m.id);
          this.#mediaUploadsDone(m.media.map((i) => i.media_id));
        }
        void this.refreshList();
        break;
      }
      case 'message_removed':
        if (e.conversation_id === this.openId) {
          this.messages = this.messages.filter((m) => m.id !== e.id);
        }
        this.#uploadDone(e.id);
        void this.refreshList();
        break;
      case 'upload':
        if (e.media_id) {
          this.mediaUploads = { ...this.mediaUploads, [e.media_id]: { sent: e.sent, total: e.total } };
        } else {
          this.uploads = { ...this.uploads, [e.id]: { sent: e.sent, total: e.total } };
        }
        break;
      case 'staged':
        // Staging progress belongs to the composer's album (album-draft.svelte.ts).
        break;
      case 'receipts':
        if (e.conversation_id === this.openId) void this.refreshStatuses();
        break;
      case 'conversation':
        this.#upsert(e.conversation);
        // Many messages arrived at once (a catch-up): reload the open chat's newest page.
        if (e.conversation.id === this.openId) void this.refreshStatuses();
        break;
      case 'conversation_removed':
        this.#remove(e.conversation);
        break;
      case 'typing': {
        this.typing = {
          ...this.typing,
          [e.conversation_id]: { username: e.username, until: Date.now() + TYPING_SHOWS_MS },
        };
        setTimeout(() => (this.typing = { ...this.typing }), TYPING_SHOWS_MS + 50);
        break;
      }
      case 'connection':
        this.#connectionEvents++;
        this.connection = e.state;
        break;
      case 'signed_out':
        forgetAlbumDrafts();
        forgetRevealed();
        this.account = null;
        this.openId = null;
        this.messages = [];
        break;
    }
  }

  #upsert(c: ConversationView) {
    this.#listEpoch++;
    this.conversations = [c, ...this.conversations.filter((x) => x.id !== c.id)].sort(
      (a, b) => b.updated_at - a.updated_at,
    );
  }

  /** A conversation left this device's lists (a deleted or blocked request): closes it if open. */
  #remove(id: string) {
    this.#listEpoch++;
    this.conversations = this.conversations.filter((c) => c.id !== id);
    this.setDraft(id, '');
    this.clearTyping(id);
    if (this.openId === id) {
      this.openId = null;
      this.messages = [];
    }
  }

  /** Accepts a message request: it joins the main list, and its sender now sees it read. */
  async acceptRequest(id: string) {
    const c = await unwrap(commands.acceptRequest(id));
    this.#upsert(c);
    this.listMode = 'chats';
    // A group just joined: its photos, videos and voice notes arrive now; show them.
    if (this.openId === id) {
      await this.refreshStatuses();
      await this.markRead();
    }
  }

  /** Leaves a group: it goes from the list, and the others see that this account left. */
  async leaveGroup(id: string) {
    await unwrap(commands.leaveGroup(id));
    this.#remove(id);
  }

  /** Removes a member from a group this account created; the chat shows the line. */
  async removeMember(id: string, username: string) {
    this.#upsert(await unwrap(commands.removeMember(id, username)));
    if (this.openId === id) await this.refreshStatuses();
  }

  /** Renames a group this account created. */
  async renameGroup(id: string, name: string) {
    this.#upsert(await unwrap(commands.renameGroup(id, name)));
    if (this.openId === id) await this.refreshStatuses();
  }

  /** Deletes a message request (or declines a group invitation); it comes back only if its
   * sender writes again (or someone invites this account anew). */
  async deleteRequest(id: string) {
    await unwrap(commands.deleteRequest(id));
    this.#remove(id);
  }

  /** Blocks someone. A direct request from them goes away with it; in groups, what they
   * write from now on shows as a placeholder. */
  async block(username: string, conversationId?: string) {
    await unwrap(commands.blockUser(username));
    const c = this.conversations.find((x) => x.id === conversationId);
    if (c?.request && c.kind === 'direct') this.#remove(c.id);
    else await this.refreshList();
  }

  async unblock(username: string) {
    await unwrap(commands.unblockUser(username));
    await this.refreshList();
    if (this.openId) await this.refreshStatuses();
  }

  /** Switches the nudity filter; the open chat is read again, drawn the new way. */
  async setNudityFilter(on: boolean) {
    this.account = await unwrap(commands.setNudityFilter(on));
    if (this.openId) await this.openConversation(this.openId);
  }

  #uploadDone(id: string) {
    if (!(id in this.uploads)) return;
    const next = { ...this.uploads };
    delete next[id];
    this.uploads = next;
  }

  #mediaUploadsDone(ids: string[]) {
    if (!ids.some((id) => id in this.mediaUploads)) return;
    const next = { ...this.mediaUploads };
    for (const id of ids) delete next[id];
    this.mediaUploads = next;
  }

  clearTyping(id: string) {
    if (!(id in this.typing)) return;
    const next = { ...this.typing };
    delete next[id];
    this.typing = next;
  }

  /**
   * Re-reads the newest page (ticks changed, or many messages arrived) and merges it. When the
   * page does not reach back to what is loaded, messages in between were never loaded: the
   * window restarts from the newest page (older ones load again on scrolling up), so the chat
   * never shows a hole.
   */
  async refreshStatuses() {
    const id = this.openId;
    if (!id) return;
    const page = await unwrap(commands.messages(id, null, PAGE));
    if (this.openId !== id) return;
    if (!this.hasNewer) {
      const { messages, restarted } = mergeNewest(this.messages, page, PAGE);
      this.messages = this.#trimTop(messages);
      if (restarted) this.hasOlder = true;
    }
    if (page.some((m) => !m.mine)) await this.markRead();
  }
}
