import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ConversationView } from './bindings';

// The edge of what a unit test can have: the Tauri bridge. Everything else is the real state.
const pending: Array<(v: unknown) => void> = [];
const lists: Array<(v: unknown) => void> = [];
vi.mock('./bindings', () => ({
  commands: {
    connection: () => new Promise((resolve) => pending.push(resolve)),
    conversations: () => new Promise((resolve) => lists.push(resolve)),
  },
  events: { natterEvent: { listen: async () => () => {} } },
}));

const { ChatState } = await import('./state.svelte');

afterEach(() => {
  pending.length = 0;
  lists.length = 0;
});

function conv(unread: number): ConversationView {
  return {
    id: 'c1',
    kind: 'direct',
    title: 'bob',
    members: ['alice', 'bob'],
    is_creator: true,
    admin: null,
    last_message: null,
    unread,
    updated_at: 1,
    media_blocked: null,
    media_reminder: { show: true, can_turn_off: true },
    invited: [],
    invited_by: null,
    request: false,
    blocked: false,
  };
}

describe('conversation list', () => {
  it('a list read that started before a newer conversation event is read again', async () => {
    const chat = new ChatState();
    const refreshing = chat.refreshList();
    // Marking the chat read reports unread 0 while the first read (unread 1) is on its way.
    chat.apply({ type: 'conversation', conversation: conv(0) });
    lists[0]({ status: 'ok', data: [conv(1)] });
    await vi.waitFor(() => expect(lists.length).toBe(2));
    expect(chat.conversations[0].unread).toBe(0);
    lists[1]({ status: 'ok', data: [conv(0)] });
    await refreshing;
    expect(chat.conversations[0].unread).toBe(0);
  });
});

describe('connection state', () => {
  it('a late answer does not overwrite a newer event', async () => {
    const chat = new ChatState();
    const asked = chat.syncConnection();
    // The core reports "online" while the question is still on its way back...
    chat.apply({ type: 'connection', state: 'online' });
    // ...and the answer, read before that, says "connecting".
    pending[0]({ status: 'ok', data: 'connecting' });
    await asked;
    expect(chat.connection).toBe('online');
  });

  it('takes the answer when nothing newer happened', async () => {
    const chat = new ChatState();
    const asked = chat.syncConnection();
    pending[0]({ status: 'ok', data: 'offline' });
    await asked;
    expect(chat.connection).toBe('offline');
  });
});

describe('voice note uploads', () => {
  it('tracks upload progress until the message is no longer sending', () => {
    const chat = new ChatState();
    chat.apply({ type: 'upload', conversation_id: 'c1', id: 'm1', media_id: null, sent: 10, total: 40 });
    expect(chat.uploads.m1).toEqual({ sent: 10, total: 40 });
    const m = {
      id: 'm1',
      conversation_id: 'c1',
      seq: 3,
      sort_key: 3,
      sender_id: 'a',
      sender: 'alice',
      text: '',
      sent_at: 1,
      mine: true,
      status: 'sent' as const,
      error: null,
      held_until: null,
      blocked_sender: false,
      event: null,
      voice: { media_id: 'x', duration_ms: 1000, size: 40, waveform: [], played: false, position_ms: 0 },
      media: [],
    };
    chat.apply({ type: 'message', message: { ...m, status: 'sending', seq: null } });
    expect(chat.uploads.m1).toBeDefined();
    chat.apply({ type: 'message', message: m });
    expect(chat.uploads.m1).toBeUndefined();
  });
});

describe('album uploads', () => {
  it('tracks each item by its media id until the message is no longer sending', () => {
    const chat = new ChatState();
    chat.apply({ type: 'upload', conversation_id: 'c1', id: 'm1', media_id: 'p1', sent: 5, total: 50 });
    chat.apply({ type: 'upload', conversation_id: 'c1', id: 'm1', media_id: 'p2', sent: 1, total: 20 });
    expect(chat.mediaUploads).toEqual({ p1: { sent: 5, total: 50 }, p2: { sent: 1, total: 20 } });
    expect(chat.uploads.m1).toBeUndefined();
    const item = (media_id: string) => ({
      media_id,
      thumbnail_id: `t${media_id}`,
      kind: 'image' as const,
      mime: 'image/jpeg',
      width: 4,
      height: 3,
      size: 50,
      duration_ms: 0,
      blurhash: '',
      uploaded_bytes: null,
      error: null,
      display: 'show' as const,
    });
    const m = {
      id: 'm1',
      conversation_id: 'c1',
      seq: 3,
      sort_key: 3,
      sender_id: 'a',
      sender: 'alice',
      text: 'caption',
      sent_at: 1,
      mine: true,
      status: 'sent' as const,
      error: null,
      held_until: null,
      blocked_sender: false,
      event: null,
      voice: null,
      media: [item('p1'), item('p2')],
    };
    chat.apply({ type: 'message', message: { ...m, status: 'sending', seq: null } });
    expect(chat.mediaUploads.p1).toBeDefined();
    chat.apply({ type: 'message', message: m });
    expect(chat.mediaUploads).toEqual({});
  });
});
