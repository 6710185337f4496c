import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, within } from '@testing-library/svelte';
import type { Account, ConversationView, MediaItemView, MessageView } from '../lib/bindings';
import { installFakeDialog } from '../lib/fake-dialog';
import { installFakeMedia } from '../lib/fake-media';

// The edge of what a unit test can have: the Tauri bridge and the window's drag-and-drop.
// The chat state, the list, the chat and its dialogs are real.
const api = vi.hoisted(() => {
  const ok = (data: unknown) => Promise.resolve({ status: 'ok', data });
  return {
    ok,
    commands: {
      conversations: vi.fn<() => Promise<unknown>>(() => ok([])),
      messages: vi.fn<(c: string, before: number | null, limit: number) => Promise<unknown>>(() => ok([])),
      markRead: vi.fn<(c: string) => Promise<unknown>>(() => ok(null)),
      voiceDrafts: vi.fn(() => ok([])),
      acceptRequest: vi.fn<(c: string) => Promise<unknown>>(),
      deleteRequest: vi.fn<(c: string) => Promise<unknown>>(() => ok(null)),
      blockUser: vi.fn<(u: string) => Promise<unknown>>(() => ok(null)),
      unblockUser: vi.fn<(u: string) => Promise<unknown>>(() => ok(null)),
      blockedUsers: vi.fn<() => Promise<unknown>>(() => ok([])),
      reportUser: vi.fn<(u: string, c: string | null, ids: string[], reason: string) => Promise<unknown>>(() => ok(null)),
      setNudityFilter: vi.fn<(on: boolean) => Promise<unknown>>(),
      leaveGroup: vi.fn<(c: string) => Promise<unknown>>(() => ok(null)),
      removeMember: vi.fn<(c: string, u: string) => Promise<unknown>>(),
      renameGroup: vi.fn<(c: string, n: string) => Promise<unknown>>(),
      updateCheck: vi.fn(() => ok({ state: 'not_configured' })),
    },
  };
});
vi.mock('../lib/bindings', () => ({
  commands: api.commands,
  events: {
    natterEvent: { listen: async () => () => {} },
    voiceEvent: { listen: async () => () => {} },
    updateProgress: { listen: async () => () => {} },
  },
  TEXT_MAX_CHARS: 4000,
  VOICE_MAX_MS: 60000,
  GROUP_MAX_MEMBERS: 32,
}));
vi.mock('@tauri-apps/api/webview', () => ({
  getCurrentWebview: () => ({ onDragDropEvent: async () => () => {} }),
}));

const { ChatState } = await import('../lib/state.svelte');
const { forgetRevealed } = await import('../lib/safety.svelte');
const { default: ConversationList } = await import('./ConversationList.svelte');
const { default: Conversation } = await import('./Conversation.svelte');
const { default: MessageBubble } = await import('./MessageBubble.svelte');
const { default: MediaViewer } = await import('./MediaViewer.svelte');
const { default: Settings } = await import('./Settings.svelte');
installFakeMedia();
installFakeDialog();

afterEach(() => {
  cleanup();
  vi.clearAllMocks();
  forgetRevealed();
});

function account(extra: Partial<Account> = {}): Account {
  return { id: 'a', username: 'alice', birthdate: '1990-01-01', nudity_filter: false, nudity_filter_locked: false, ...extra };
}

function conv(id: string, title: string, extra: Partial<ConversationView> = {}): ConversationView {
  return {
    id,
    kind: 'direct',
    title,
    members: ['alice', title],
    is_creator: false,
    admin: null,
    last_message: null,
    unread: 0,
    updated_at: 1,
    media_blocked: null,
    media_reminder: { show: true, can_turn_off: true },
    invited: [],
    invited_by: null,
    request: false,
    blocked: false,
    ...extra,
  };
}

function msg(id: string, extra: Partial<MessageView> = {}): MessageView {
  return {
    id,
    conversation_id: 'r1',
    seq: 1,
    sort_key: Number(id.replace(/\D/g, '')) || 1,
    sender_id: 'b',
    sender: 'bob',
    text: `hello ${id}`,
    sent_at: new Date(2025, 5, 1, 14, 5).getTime(),
    mine: false,
    status: 'received',
    error: null,
    held_until: null,
    blocked_sender: false,
    event: null,
    voice: null,
    media: [],
    ...extra,
  };
}

function photo(n: number, display: MediaItemView['display']): MediaItemView {
  return {
    media_id: `p${n}`,
    thumbnail_id: `t${n}`,
    kind: 'image',
    mime: 'image/jpeg',
    width: 400,
    height: 300,
    size: 1000,
    duration_ms: 0,
    blurhash: 'LEHV6nWB2yk8pyo0adR*.7kCMdnj',
    uploaded_bytes: null,
    error: null,
    display,
  };
}

/** A signed-in chat state holding these conversations, with `open` open on `messages`. */
function chatWith(list: ConversationView[], open: string | null = null, messages: MessageView[] = []) {
  const chat = new ChatState();
  chat.account = account();
  chat.connection = 'online';
  chat.conversations = list;
  chat.openId = open;
  chat.messages = messages;
  chat.hasOlder = false;
  return chat;
}

/** Every request for a file of the app's media scheme on the page (thumbnails, full files). */
const mediaFiles = (root: ParentNode) =>
  [...root.querySelectorAll('img, video')].filter((e) => (e.getAttribute('src') ?? '').startsWith('natter-media:'));

describe('message requests in the list', () => {
  it('keep out of the main list and its unread badges, behind "Message requests (N)"', async () => {
    const chat = chatWith([
      conv('c1', 'carol', { unread: 2 }),
      conv('r1', 'mallory', { request: true, unread: 5, last_message: msg('m1', { text: 'hey, add me?' }) }),
      conv('r2', 'trent', { request: true, unread: 1 }),
    ]);
    const r = render(ConversationList, { chat });
    expect(r.getAllByTestId('conversation-item').map((e) => e.dataset.title)).toEqual(['carol']);
    expect(r.queryAllByTestId('request-item')).toHaveLength(0);
    // The only badge is carol's: 5 + 1 unread requests count nowhere.
    expect([...r.container.querySelectorAll('.badge')].map((b) => b.textContent)).toEqual(['2']);
    expect(r.getByTestId('requests-entry').textContent).toContain('Message requests (2)');

    await fireEvent.click(r.getByTestId('requests-entry'));
    const items = r.getAllByTestId('request-item');
    expect(items.map((e) => e.dataset.title)).toEqual(['mallory', 'trent']);
    expect(items[0].textContent).toContain('hey, add me?');
    expect(r.container.querySelector('.badge')).toBeNull();
    expect(r.queryAllByTestId('conversation-item')).toHaveLength(0);

    await fireEvent.click(items[0]);
    await vi.waitFor(() => expect(api.commands.messages).toHaveBeenCalledWith('r1', null, 50));
    await new Promise((resolve) => setTimeout(resolve, 0));
    // Looking at a request tells its sender nothing: no read receipt (a chat gets one).
    expect(api.commands.markRead).not.toHaveBeenCalled();

    await fireEvent.click(r.getByTestId('requests-back'));
    expect(r.getAllByTestId('conversation-item')).toHaveLength(1);
    await fireEvent.click(r.getByTestId('conversation-item'));
    await vi.waitFor(() => expect(api.commands.markRead).toHaveBeenCalledWith('c1'));
  });

  it('shows no entry when there are no requests', () => {
    const r = render(ConversationList, { chat: chatWith([conv('c1', 'carol')]) });
    expect(r.queryByTestId('requests-entry')).toBeNull();
  });
});

describe('an open message request', () => {
  const request = () => conv('r1', 'bob', { request: true, unread: 2 });

  it('says who wants to write and what they may send, instead of the composer', () => {
    const r = render(Conversation, { chat: chatWith([request()], 'r1', [msg('m1'), msg('m2')]) });
    expect(r.getByTestId('request-banner').textContent).toContain(
      'bob wants to message you. They can only send text until you accept.',
    );
    expect(r.getAllByTestId('message')).toHaveLength(2);
    expect(r.queryByTestId('composer')).toBeNull();
  });

  it('Accept moves it to the main list and opens the composer', async () => {
    api.commands.acceptRequest.mockImplementationOnce(() => api.ok({ ...request(), request: false }));
    const chat = chatWith([request()], 'r1', [msg('m1')]);
    chat.listMode = 'requests';
    const r = render(Conversation, { chat });
    await fireEvent.click(r.getByTestId('request-accept'));
    expect(api.commands.acceptRequest).toHaveBeenCalledWith('r1');
    await vi.waitFor(() => expect(r.queryByTestId('request-banner')).toBeNull());
    expect(chat.chats.map((c) => c.id)).toEqual(['r1']);
    expect(chat.requests).toEqual([]);
    expect(chat.listMode).toBe('chats');
    expect(r.getByTestId('composer')).toBeTruthy();
  });

  it('Delete removes it and closes the chat', async () => {
    const chat = chatWith([request(), conv('c1', 'carol')], 'r1', [msg('m1')]);
    const r = render(Conversation, { chat });
    await fireEvent.click(r.getByTestId('request-delete'));
    expect(api.commands.deleteRequest).toHaveBeenCalledWith('r1');
    await vi.waitFor(() => expect(chat.openId).toBeNull());
    expect(chat.conversations.map((c) => c.id)).toEqual(['c1']);
    expect(r.queryByTestId('request-banner')).toBeNull();
    expect(r.getByText('Pick a chat, or start a new one.')).toBeTruthy();
    expect(api.commands.blockUser).not.toHaveBeenCalled();
  });

  it('Block blocks the sender, removes the request and closes the chat', async () => {
    const chat = chatWith([request()], 'r1', [msg('m1')]);
    const r = render(Conversation, { chat });
    await fireEvent.click(r.getByTestId('request-block'));
    expect(api.commands.blockUser).toHaveBeenCalledWith('bob');
    await vi.waitFor(() => expect(chat.openId).toBeNull());
    expect(chat.conversations).toEqual([]);
    expect(api.commands.deleteRequest).not.toHaveBeenCalled();
  });

  it('says why when the core refuses, and stays open', async () => {
    api.commands.deleteRequest.mockImplementationOnce(() =>
      Promise.resolve({ status: 'error', error: { code: 'network', message: 'the server could not be reached' } }),
    );
    const chat = chatWith([request()], 'r1', [msg('m1')]);
    const r = render(Conversation, { chat });
    await fireEvent.click(r.getByTestId('request-delete'));
    await vi.waitFor(() => expect(within(r.getByTestId('request-banner')).getByRole('alert').textContent).toBe('the server could not be reached'));
    expect(chat.openId).toBe('r1');
  });

  it('closes when the core reports it gone (deleted or blocked on another device)', () => {
    const chat = chatWith([request()], 'r1', [msg('m1')]);
    chat.apply({ type: 'conversation_removed', conversation: 'r1' });
    expect(chat.openId).toBeNull();
    expect(chat.messages).toEqual([]);
    expect(chat.conversations).toEqual([]);
  });
});

describe('groups', () => {
  const invitation = () =>
    conv('g1', 'Hiking <club>', {
      kind: 'group',
      members: ['alice', 'bob', 'stan'],
      invited: ['alice', 'bob'],
      invited_by: 'stan',
      request: true,
    });

  it('an invitation says who invited to which group, with Accept and Decline instead of the composer', () => {
    const r = render(Conversation, { chat: chatWith([invitation()], 'g1', [msg('m1', { conversation_id: 'g1' })]) });
    expect(r.getByTestId('invitation-banner').textContent).toContain('stan invited you to Hiking <club> (3 members)');
    expect(r.getByTestId('request-accept')).toBeTruthy();
    expect(r.getByTestId('request-delete').textContent?.trim()).toBe('Decline');
    expect(r.queryByTestId('composer')).toBeNull();
    expect(r.queryByTestId('group-members-open')).toBeNull();
  });

  it('Decline takes the invitation away', async () => {
    const chat = chatWith([invitation()], 'g1');
    const r = render(Conversation, { chat });
    await fireEvent.click(r.getByTestId('request-delete'));
    expect(api.commands.deleteRequest).toHaveBeenCalledWith('g1');
    await vi.waitFor(() => expect(chat.openId).toBeNull());
    expect(chat.conversations).toEqual([]);
  });

  it('the member list marks who is invited, offers Report and Block per member, Remove only to the admin', async () => {
    // alice is not the admin here: bob is, and every member sees it.
    const group = conv('g1', 'Trip', { kind: 'group', members: ['alice', 'bob', 'carol'], invited: ['carol'], admin: 'bob' });
    const r = render(Conversation, { chat: chatWith([group], 'g1') });
    await fireEvent.click(r.getByTestId('group-members-open'));
    const rows = r.getAllByTestId('group-member');
    expect(rows.map((e) => e.dataset.username)).toEqual(['alice', 'bob', 'carol']);
    expect(r.getAllByTestId('member-admin')).toHaveLength(1);
    expect(within(rows[1]).getByTestId('member-admin')).toBeTruthy();
    const carol = rows[2];
    expect(within(carol).getByTestId('member-invited')).toBeTruthy();
    expect(within(rows[1]).queryByTestId('member-invited')).toBeNull();
    expect(within(rows[0]).queryByTestId('member-report')).toBeNull();
    expect(within(carol).getByTestId('member-report')).toBeTruthy();
    expect(r.queryAllByTestId('member-remove')).toHaveLength(0);
    api.commands.conversations.mockImplementationOnce(() => api.ok([group]));
    await fireEvent.click(within(carol).getByTestId('member-block'));
    expect(api.commands.blockUser).toHaveBeenCalledWith('carol');

    await fireEvent.click(within(rows[1]).getByTestId('member-report'));
    await vi.waitFor(() => expect(r.getByTestId('report-dialog')).toBeTruthy());
  });

  it('the admin removes and renames; Leave leaves and closes the chat', async () => {
    const group = conv('g1', 'Trip', { kind: 'group', members: ['alice', 'bob'], is_creator: true });
    api.commands.removeMember.mockImplementationOnce(() => api.ok({ ...group, members: ['alice'] }));
    const chat = chatWith([group], 'g1');
    const r = render(Conversation, { chat });
    await fireEvent.click(r.getByTestId('group-members-open'));
    await fireEvent.click(r.getByTestId('member-remove'));
    expect(api.commands.removeMember).toHaveBeenCalledWith('g1', 'bob');
    await vi.waitFor(() => expect(r.getAllByTestId('group-member')).toHaveLength(1));

    await fireEvent.click(r.getByTestId('group-leave'));
    await fireEvent.click(r.getByTestId('group-leave-confirm'));
    expect(api.commands.leaveGroup).toHaveBeenCalledWith('g1');
    await vi.waitFor(() => expect(chat.openId).toBeNull());
    expect(chat.conversations).toEqual([]);
  });

  it('shows the server\'s history lines as notes, not as messages', () => {
    const group = conv('g1', 'Trip', { kind: 'group', members: ['alice', 'bob'] });
    const line = msg('m2', { conversation_id: 'g1', text: '', event: { type: 'left', user_id: 'c', username: 'carol' } });
    const r = render(Conversation, { chat: chatWith([group], 'g1', [msg('m1', { conversation_id: 'g1' }), line]) });
    expect(r.getByTestId('group-event').textContent).toBe('carol left');
    expect(r.getAllByTestId('message')).toHaveLength(1);
  });
});

describe('blocking and reporting from a chat', () => {
  it('Block in the header blocks the other person; a blocked chat explains instead of the composer', async () => {
    const chat = chatWith([conv('c1', 'bob')], 'c1', [msg('m1', { conversation_id: 'c1' })]);
    api.commands.conversations.mockImplementationOnce(() => api.ok([conv('c1', 'bob', { blocked: true })]));
    const r = render(Conversation, { chat });
    const toggle = r.getByTestId('block-toggle');
    expect(toggle.textContent?.trim()).toBe('Block');
    await fireEvent.click(toggle);
    expect(api.commands.blockUser).toHaveBeenCalledWith('bob');
    await vi.waitFor(() =>
      expect(r.getByTestId('blocked-notice').textContent).toContain('You blocked bob. Unblock to send messages.'),
    );
    expect(r.queryByTestId('composer')).toBeNull();
    expect(r.getByTestId('block-toggle').textContent?.trim()).toBe('Unblock');

    api.commands.conversations.mockImplementationOnce(() => api.ok([conv('c1', 'bob')]));
    await fireEvent.click(r.getByTestId('blocked-unblock'));
    expect(api.commands.unblockUser).toHaveBeenCalledWith('bob');
    await vi.waitFor(() => expect(r.queryByTestId('blocked-notice')).toBeNull());
    expect(r.getByTestId('composer')).toBeTruthy();
  });

  it('a group has Members instead of one Block and Report in the header', () => {
    const group = conv('g1', 'Trip', { kind: 'group', members: ['alice', 'bob', 'carol'] });
    const r = render(Conversation, { chat: chatWith([group], 'g1') });
    expect(r.queryByTestId('block-toggle')).toBeNull();
    expect(r.queryByTestId('report-open')).toBeNull();
    expect(r.getByTestId('group-members-open')).toBeTruthy();
  });

  it('Report lists their recent messages, needs a reason and sends the chosen ones', async () => {
    const messages = [
      msg('m1', { conversation_id: 'c1' }),
      msg('m2', { conversation_id: 'c1', mine: true, sender: 'alice', status: 'read', text: 'mine, not theirs' }),
      msg('m3', { conversation_id: 'c1', text: '<b>buy now</b>' }),
      msg('m4', { conversation_id: 'c1', text: 'last one' }),
    ];
    const r = render(Conversation, { chat: chatWith([conv('c1', 'bob')], 'c1', messages) });
    await fireEvent.click(r.getByTestId('report-open'));
    const dialog = r.getByTestId('report-dialog') as HTMLDialogElement;
    expect(dialog.open).toBe(true);
    const d = within(dialog);
    // Theirs only, newest first; markup is text.
    const boxes = d.getAllByTestId('report-message') as HTMLInputElement[];
    expect(boxes.map((b) => b.value)).toEqual(['m4', 'm3', 'm1']);
    expect(dialog.textContent).not.toContain('mine, not theirs');
    expect(dialog.textContent).toContain('<b>buy now</b>');
    expect(dialog.querySelector('b')).toBeNull();

    await fireEvent.click(boxes[1]);
    await fireEvent.click(boxes[2]);
    // No reason: nothing is sent, and the form says why.
    await fireEvent.click(d.getByTestId('report-send'));
    expect(d.getByTestId('report-error').textContent).toContain('Say why');
    expect(api.commands.reportUser).not.toHaveBeenCalled();
    await fireEvent.input(d.getByTestId('report-reason'), { target: { value: '   ' } });
    await fireEvent.click(d.getByTestId('report-send'));
    expect(api.commands.reportUser).not.toHaveBeenCalled();

    await fireEvent.input(d.getByTestId('report-reason'), { target: { value: ' Spam links ' } });
    await fireEvent.click(d.getByTestId('report-send'));
    expect(api.commands.reportUser).toHaveBeenCalledWith('bob', 'c1', ['m3', 'm1'], 'Spam links');
    await vi.waitFor(() => expect(d.getByTestId('report-done').textContent).toBe('Reported. Thank you.'));
    await fireEvent.click(d.getByTestId('report-close'));
    expect(r.queryByTestId('report-dialog')).toBeNull();
  });

  it('shows the server\'s words when a report is refused (rate limited)', async () => {
    api.commands.reportUser.mockImplementationOnce(() =>
      Promise.resolve({
        status: 'error',
        error: { code: 'rate_limited', message: 'too many reports: try again in 5 minutes', retry_after_s: 300 },
      }),
    );
    const r = render(Conversation, { chat: chatWith([conv('c1', 'bob')], 'c1', [msg('m1', { conversation_id: 'c1' })]) });
    await fireEvent.click(r.getByTestId('report-open'));
    await fireEvent.input(r.getByTestId('report-reason'), { target: { value: 'threats' } });
    await fireEvent.click(r.getByTestId('report-send'));
    await vi.waitFor(() => expect(r.getByTestId('report-error').textContent).toBe('too many reports: try again in 5 minutes'));
    expect(r.queryByTestId('report-done')).toBeNull();
  });
});

describe('photos the nudity filter covers', () => {
  const album = (...display: MediaItemView['display'][]) =>
    msg('m1', { text: '', media: display.map((d, i) => photo(i + 1, d)) });

  it('a hidden one is a plain tile: no picture, nothing fetched, nothing to reveal or open', async () => {
    const onOpenMedia = vi.fn();
    const r = render(MessageBubble, { message: album('hide'), showSender: false, onOpenMedia });
    const tile = r.getByTestId('media-hidden');
    expect(tile.textContent).toContain('Hidden by your safety settings');
    expect(r.container.querySelector('img')).toBeNull();
    expect(r.queryByTestId('media-reveal')).toBeNull();
    expect(r.queryByTestId('album-open')).toBeNull();
    await fireEvent.click(tile);
    expect(onOpenMedia).not.toHaveBeenCalled();
  });

  it('a hidden one stays covered in the viewer, and its neighbours do not fetch it', () => {
    // What the viewer preloads (the neighbours of the item on screen).
    const loads: string[] = [];
    const Real = window.Image;
    window.Image = function () {
      return {
        set src(v: string) {
          loads.push(v);
        },
      };
    } as unknown as typeof Image;
    try {
      const v = render(MediaViewer, { message: album('show', 'hide'), index: 0, onClose: () => {} });
      expect(loads).toEqual([]);
      expect(mediaFiles(v.container).map((e) => e.getAttribute('src'))).toContain('natter-media://localhost/p1');
      expect((v.getByTestId('save-all') as HTMLButtonElement).disabled).toBe(true);
      v.unmount();
      const h = render(MediaViewer, { message: album('show', 'hide'), index: 1, onClose: () => {} });
      expect(h.getByTestId('viewer-hidden').textContent).toBe('Hidden by your safety settings');
      expect(mediaFiles(h.container)).toEqual([]);
      expect(h.queryByTestId('viewer-reveal')).toBeNull();
      expect((h.getByTestId('save-one') as HTMLButtonElement).disabled).toBe(true);
    } finally {
      window.Image = Real;
    }
  });

  it('a blurred one shows only its blurred blurhash until tapped, then stays revealed', async () => {
    const onOpenMedia = vi.fn();
    const r = render(MessageBubble, { message: album('blur', 'show'), showSender: false, onOpenMedia });
    const [first, second] = r.getAllByTestId('album-item');
    const veil = within(first).getByTestId('media-blurred');
    expect(mediaFiles(first)).toEqual([]);
    expect(veil.querySelector('img')?.classList.contains('veiled')).toBe(true);
    expect(within(first).queryByTestId('album-open')).toBeNull();
    // The other photo is not affected.
    expect(mediaFiles(second).map((e) => e.getAttribute('src'))).toEqual(['natter-media://localhost/t2']);

    await fireEvent.click(within(first).getByTestId('media-reveal'));
    expect(within(first).queryByTestId('media-blurred')).toBeNull();
    expect(mediaFiles(first).map((e) => e.getAttribute('src'))).toEqual(['natter-media://localhost/t1']);
    await fireEvent.click(within(first).getByTestId('album-open'));
    expect(onOpenMedia).toHaveBeenCalledWith('m1', 0);

    // For the rest of the session: drawn again, it is still revealed.
    r.unmount();
    const again = render(MessageBubble, { message: album('blur', 'show'), showSender: false });
    expect(again.queryByTestId('media-blurred')).toBeNull();
  });

  it('the chat opens the viewer only on what may be seen', async () => {
    const message = msg('m1', { conversation_id: 'c1', text: '', media: [photo(1, 'hide'), photo(2, 'blur'), photo(3, 'show')] });
    const r = render(Conversation, { chat: chatWith([conv('c1', 'bob')], 'c1', [message]) });
    expect(r.getAllByTestId('album-open')).toHaveLength(1);
    await fireEvent.click(r.getByTestId('album-open'));
    expect(r.getByTestId('viewer-counter').textContent).toBe('3 / 3');
    expect(mediaFiles(r.getByTestId('media-viewer')).map((e) => e.getAttribute('src'))).not.toContain(
      'natter-media://localhost/p1',
    );
  });
});

describe('the nudity filter setting', () => {
  it('is on and cannot be switched off before 18', async () => {
    const chat = chatWith([]);
    chat.account = account({ nudity_filter: true, nudity_filter_locked: true });
    const r = render(Settings, { chat, onClose: () => {} });
    const sw = r.getByTestId('nudity-filter') as HTMLInputElement;
    expect(sw.getAttribute('role')).toBe('switch');
    expect(sw.checked).toBe(true);
    expect(sw.disabled).toBe(true);
    expect(r.getByTestId('settings').textContent).toContain('Always on until you are 18');
    await fireEvent.click(sw);
    expect(api.commands.setNudityFilter).not.toHaveBeenCalled();
  });

  it('switches for an adult and keeps what the core says', async () => {
    api.commands.setNudityFilter.mockImplementationOnce((on) => api.ok(account({ nudity_filter: on })));
    const chat = chatWith([]);
    const r = render(Settings, { chat, onClose: () => {} });
    const sw = r.getByTestId('nudity-filter') as HTMLInputElement;
    expect(sw.disabled).toBe(false);
    expect(sw.checked).toBe(false);
    expect(r.queryByText(/Always on until you are 18/)).toBeNull();
    await fireEvent.click(sw);
    expect(api.commands.setNudityFilter).toHaveBeenCalledWith(true);
    await vi.waitFor(() => expect(chat.account?.nudity_filter).toBe(true));
    expect(sw.checked).toBe(true);
  });

  it('goes back and says why when the change is refused', async () => {
    api.commands.setNudityFilter.mockImplementationOnce(() =>
      Promise.resolve({ status: 'error', error: { code: 'nudity_filter_locked', message: 'the nudity filter stays on until you are 18' } }),
    );
    const chat = chatWith([]);
    chat.account = account({ nudity_filter: true });
    const r = render(Settings, { chat, onClose: () => {} });
    const sw = r.getByTestId('nudity-filter') as HTMLInputElement;
    await fireEvent.click(sw);
    await vi.waitFor(() => expect(r.getByRole('alert').textContent).toBe('the nudity filter stays on until you are 18'));
    expect(sw.checked).toBe(true);
  });

  it('opens from the list, and lists blocked people who can be unblocked there', async () => {
    api.commands.blockedUsers.mockImplementationOnce(() => api.ok([{ id: 'u1', username: 'mallory' }]));
    const r = render(ConversationList, { chat: chatWith([]) });
    await fireEvent.click(r.getByTestId('settings-open'));
    const row = await r.findByTestId('blocked-user');
    expect(row.textContent).toContain('@mallory');
    await fireEvent.click(within(row).getByTestId('unblock-user'));
    expect(api.commands.unblockUser).toHaveBeenCalledWith('mallory');
    await vi.waitFor(() => expect(r.getByText("You haven't blocked anyone.")).toBeTruthy());
    await fireEvent.click(r.getByTestId('settings-close'));
    expect(r.queryByTestId('settings')).toBeNull();
  });
});
