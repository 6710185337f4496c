import { describe, expect, it } from 'vitest';
import type { MessageView } from './bindings';
import {
  BLOCKED_PLACEHOLDER,
  dayLabel,
  duration,
  eventText,
  listTime,
  mergeNewest,
  parseMembers,
  previewText,
  startsNewDay,
  upsertMessage,
} from './format';

function msg(id: string, sort_key: number, sent_at: number, extra: Partial<MessageView> = {}): MessageView {
  return {
    id,
    conversation_id: 'c',
    seq: sort_key,
    sort_key,
    sender_id: 'u',
    sender: 'bob',
    text: id,
    sent_at,
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

const noon = new Date(2026, 10, 21, 12, 0).getTime();
const DAY = 86_400_000;

describe('day labels', () => {
  it('says Today, Yesterday, then the date', () => {
    expect(dayLabel(noon - 3600_000, noon)).toBe('Today');
    expect(dayLabel(noon - DAY, noon)).toBe('Yesterday');
    expect(dayLabel(noon - 3 * DAY, noon)).toContain('2026');
  });

  it('puts a separator where the calendar day changes, not every 24 hours', () => {
    const lateNight = new Date(2026, 10, 20, 23, 50).getTime();
    const earlyMorning = new Date(2026, 10, 21, 0, 10).getTime();
    const list = [msg('a', 1, lateNight), msg('b', 2, earlyMorning), msg('c', 3, earlyMorning + 60_000)];
    expect(list.map((_, i) => startsNewDay(list, i))).toEqual([true, true, false]);
  });

  it('shows clock time for today and a short date for old chats', () => {
    expect(listTime(noon - 60_000, noon)).toMatch(/\d{1,2}.\d{2}/);
    expect(listTime(noon - DAY, noon)).toBe('Yesterday');
    expect(listTime(noon - 30 * DAY, noon)).toContain('2026');
  });
});

describe('upsertMessage', () => {
  it('keeps sort order and replaces by id', () => {
    let list = [msg('a', 1, noon), msg('c', 3, noon)];
    list = upsertMessage(list, msg('b', 2, noon));
    expect(list.map((m) => m.id)).toEqual(['a', 'b', 'c']);
    list = upsertMessage(list, msg('b', 2, noon, { text: 'edited' }));
    expect(list.map((m) => m.text)).toEqual(['a', 'edited', 'c']);
  });

  it('moves a sending message to its acknowledged place', () => {
    const pending = msg('p', 2 ** 52, noon, { mine: true, status: 'sending', seq: null });
    let list = upsertMessage([msg('a', 1, noon)], pending);
    list = upsertMessage(list, msg('x', 2, noon));
    expect(list.map((m) => m.id)).toEqual(['a', 'x', 'p']);
    list = upsertMessage(list, { ...pending, sort_key: 3, seq: 3, status: 'sent' });
    expect(list.map((m) => [m.id, m.status])).toEqual([
      ['a', 'received'],
      ['x', 'received'],
      ['p', 'sent'],
    ]);
  });
});

it('parses group members from commas, spaces and @names', () => {
  expect(parseMembers(' @Bob, carol  dave,bob ')).toEqual(['bob', 'carol', 'dave']);
  expect(parseMembers('  ')).toEqual([]);
});

describe('mergeNewest', () => {
  const range = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => msg(`m${from + i}`, from + i, noon));

  it('merges a page that overlaps what is loaded', () => {
    const { messages, restarted } = mergeNewest(range(1, 5), range(3, 7), 5);
    expect(restarted).toBe(false);
    expect(messages.map((m) => m.sort_key)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('restarts the window instead of leaving a hole when many arrived at once', () => {
    const { messages, restarted } = mergeNewest(range(1, 5), range(20, 24), 5);
    expect(restarted).toBe(true);
    expect(messages.map((m) => m.sort_key)).toEqual([20, 21, 22, 23, 24]);
  });

  it('does not count a message still sending as loaded history', () => {
    const pending = msg('p', 2 ** 52, noon, { seq: null, status: 'sending', mine: true });
    const { restarted } = mergeNewest([...range(1, 5), pending], range(20, 24), 5);
    expect(restarted).toBe(true);
  });
});

describe('voice notes', () => {
  it('shows durations as minutes and whole seconds', () => {
    expect(duration(0)).toBe('0:00');
    expect(duration(7400)).toBe('0:07');
    expect(duration(59_999)).toBe('0:59');
    expect(duration(60_000)).toBe('1:00');
    expect(duration(61_000)).toBe('1:01');
    expect(duration(NaN)).toBe('0:00');
    expect(duration(-5)).toBe('0:00');
  });

  it('previews a voice note in the conversation list by its length', () => {
    const voice = { media_id: 'x', duration_ms: 7400, size: 1, waveform: [], played: false, position_ms: 0 };
    expect(previewText(msg('v', 1, noon, { text: '', voice }))).toBe('🎤 Voice message (0:07)');
    expect(previewText(msg('t', 1, noon, { text: 'two\n lines' }))).toBe('two lines');
  });
});

describe('albums', () => {
  const item = (kind: 'image' | 'video') => ({
    media_id: 'm',
    thumbnail_id: 't',
    kind,
    mime: kind === 'video' ? 'video/mp4' : 'image/jpeg',
    width: 4,
    height: 3,
    size: 1,
    duration_ms: 0,
    blurhash: '',
    uploaded_bytes: null,
    error: null,
    display: 'show' as const,
  });

  it('previews an album by what it holds, then its caption', () => {
    expect(previewText(msg('a', 1, noon, { text: '', media: [item('image')] }))).toBe('📷 Photo');
    expect(previewText(msg('a', 1, noon, { text: '', media: [item('video'), item('video')] }))).toBe('🎬 2 videos');
    expect(previewText(msg('a', 1, noon, { text: 'At the\nbeach', media: [item('image'), item('image')] }))).toBe(
      '📷 2 photos · At the beach',
    );
    expect(previewText(msg('a', 1, noon, { text: '', media: [item('image'), item('video')] }))).toBe('🖼 1 photo, 1 video');
  });
});

describe('groups', () => {
  it('turns the server\'s history lines into sentences, names as given', () => {
    const line = (event: MessageView['event'], sender = 'ann') => msg('e', 1, noon, { text: '', sender, event });
    expect(eventText(line({ type: 'left', user_id: 'b', username: 'bob' }, 'bob'))).toBe('bob left');
    expect(eventText(line({ type: 'removed', user_id: 'c', username: 'cy' }))).toBe('ann removed cy');
    expect(eventText(line({ type: 'renamed', name: '<b>Trip</b>' }))).toBe('ann renamed the group to “<b>Trip</b>”');
    expect(eventText(msg('t', 1, noon))).toBeNull();
    expect(previewText(line({ type: 'left', user_id: 'b', username: 'bob' }, 'bob'))).toBe('bob left');
  });

  it('previews a blocked person\'s message as the placeholder, never its text', () => {
    const m = msg('x', 1, noon, { text: 'should never show', blocked_sender: true });
    expect(previewText(m)).toBe(BLOCKED_PLACEHOLDER);
  });
});
