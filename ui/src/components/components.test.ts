import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render } from '@testing-library/svelte';
import type { MessageView } from '../lib/bindings';
import { clock } from '../lib/format';
import MessageBubble from './MessageBubble.svelte';
import Composer from './Composer.svelte';

afterEach(cleanup);

function mine(extra: Partial<MessageView>): MessageView {
  return {
    id: '1',
    conversation_id: 'c',
    seq: 1,
    sort_key: 1,
    sender_id: 'me',
    sender: 'alice',
    text: 'hi',
    sent_at: Date.now(),
    mine: true,
    status: 'sent',
    error: null,
    held_until: null,
    blocked_sender: false,
    event: null,
    voice: null,
    media: [],
    ...extra,
  };
}

describe('MessageBubble', () => {
  it('renders markup in a message as plain text', () => {
    const evil = '<img src=x onerror="window.pwned=1"><b>bold</b>';
    const { container, getByTestId } = render(MessageBubble, {
      message: mine({ text: evil, mine: false, status: 'received' }),
      showSender: true,
    });
    expect(getByTestId('message-text').textContent).toBe(evil);
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('b')).toBeNull();
  });

  it('shows the ticks for each status', () => {
    for (const [status, label] of [
      ['sending', 'Sending'],
      ['sent', 'Sent'],
      ['delivered', 'Delivered'],
      ['read', 'Read'],
    ] as const) {
      const { getByLabelText, getByTestId, unmount } = render(MessageBubble, {
        message: mine({ status }),
        showSender: false,
      });
      expect(getByTestId('message').dataset.status).toBe(status);
      expect(getByLabelText(label)).toBeTruthy();
      unmount();
    }
  });

  it('says why a message failed', () => {
    const { getByRole } = render(MessageBubble, {
      message: mine({ status: 'failed', error: 'message is empty (invalid_text)' }),
      showSender: false,
    });
    expect(getByRole('alert').textContent).toContain('message is empty');
  });
});

describe('a message the server asked to slow down', () => {
  it('says when it goes out by itself, only while it waits', () => {
    const at = new Date(2025, 5, 1, 14, 5).getTime();
    const r = render(MessageBubble, { message: mine({ status: 'sending', seq: null, held_until: at }), showSender: false });
    expect(r.getByTestId('held').textContent).toContain(`goes out by itself at ${clock(at)}`);
    r.unmount();
    const sent = render(MessageBubble, { message: mine({ status: 'sent', held_until: null }), showSender: false });
    expect(sent.queryByTestId('held')).toBeNull();
  });
});

describe('unsent messages', () => {
  it('can be cancelled while sending or deleted once failed, never after they went out', async () => {
    const onDiscard = vi.fn();
    for (const [status, label] of [
      ['sending', 'Cancel sending'],
      ['failed', 'Delete'],
    ] as const) {
      const { getByTestId, unmount } = render(MessageBubble, {
        message: mine({ status, error: status === 'failed' ? 'refused' : null }),
        showSender: false,
        onDiscard,
      });
      const button = getByTestId('discard');
      expect(button.textContent?.trim()).toBe(label);
      await fireEvent.click(button);
      unmount();
    }
    expect(onDiscard).toHaveBeenCalledTimes(2);
    for (const status of ['sent', 'delivered', 'read'] as const) {
      const { queryByTestId, unmount } = render(MessageBubble, {
        message: mine({ status }),
        showSender: false,
        onDiscard,
      });
      expect(queryByTestId('discard')).toBeNull();
      unmount();
    }
  });
});

describe('Composer', () => {
  it('sends on Enter and inserts a newline on Shift+Enter', async () => {
    const onSend = vi.fn();
    const { getByTestId } = render(Composer, { onSend, onTyping: () => {} });
    const box = getByTestId('composer') as HTMLTextAreaElement;
    await fireEvent.input(box, { target: { value: 'line one' } });
    const shift = await fireEvent.keyDown(box, { key: 'Enter', shiftKey: true });
    expect(shift).toBe(true); // not prevented: the browser inserts the newline
    expect(onSend).not.toHaveBeenCalled();
    await fireEvent.keyDown(box, { key: 'Enter' });
    expect(onSend).toHaveBeenCalledWith('line one');
    expect(box.value).toBe('');
  });

  it('starts from the chat\'s draft and reports what is typed', async () => {
    const onDraft = vi.fn();
    const { getByTestId } = render(Composer, {
      onSend: () => {},
      onTyping: () => {},
      draft: 'half a thought',
      onDraft,
    });
    const box = getByTestId('composer') as HTMLTextAreaElement;
    expect(box.value).toBe('half a thought');
    await fireEvent.input(box, { target: { value: 'half a thought, finished' } });
    expect(onDraft).toHaveBeenLastCalledWith('half a thought, finished');
    await fireEvent.keyDown(box, { key: 'Enter' });
    expect(onDraft).toHaveBeenLastCalledWith('');
  });

  it('does not send blank or over-long text', async () => {
    const onSend = vi.fn();
    const { getByTestId, findByRole } = render(Composer, { onSend, onTyping: () => {} });
    const box = getByTestId('composer') as HTMLTextAreaElement;
    await fireEvent.input(box, { target: { value: '   ' } });
    await fireEvent.keyDown(box, { key: 'Enter' });
    expect((getByTestId('send') as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.input(box, { target: { value: 'x'.repeat(4001) } });
    await fireEvent.keyDown(box, { key: 'Enter' });
    expect((await findByRole('alert')).textContent).toContain('4001 / 4000');
    expect(onSend).not.toHaveBeenCalled();
  });
});

describe('an account under 16', () => {
  it('is told why there are no chats and when that changes, and can log out', async () => {
    const { default: NoDirectMessages } = await import('./NoDirectMessages.svelte');
    const onLogout = vi.fn();
    const r = render(NoDirectMessages, {
      username: 'sam',
      reason: 'direct messages open on your 16th birthday',
      onLogout,
    });
    expect(r.getByRole('heading').textContent).toContain("aren't available yet");
    expect(r.getByTestId('dm-unavailable').textContent).toContain('direct messages open on your 16th birthday');
    expect(r.getByTestId('dm-unavailable').textContent).toContain('@sam');
    await fireEvent.click(r.getByTestId('logout'));
    expect(onLogout).toHaveBeenCalled();
  });
});

describe('a message from someone this account blocked', () => {
  it('shows only the quiet placeholder, without the sender or any text', () => {
    const r = render(MessageBubble, {
      message: { ...mine({ mine: false, status: 'received' }), text: 'secret', sender: 'eve', blocked_sender: true },
      showSender: true,
    });
    expect(r.getByTestId('blocked-placeholder').textContent).toBe('Message from someone you blocked');
    expect(r.container.textContent).not.toContain('secret');
    expect(r.container.textContent).not.toContain('eve');
    r.unmount();
  });
});
