// Pure presentation helpers: times, day separators, ticks. Unit-tested in format.test.ts.
import type { MessageStatus, MessageView } from './bindings';

const DAY = 24 * 60 * 60 * 1000;

export function startOfDay(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** "14:05" for a time today. */
export function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/** The conversation list's time: the clock today, "Yesterday", the weekday this week, else a date. */
export function listTime(ms: number, now: number = Date.now()): string {
  const days = Math.round((startOfDay(now) - startOfDay(ms)) / DAY);
  if (days <= 0) return clock(ms);
  if (days === 1) return 'Yesterday';
  if (days < 7) return new Date(ms).toLocaleDateString(undefined, { weekday: 'short' });
  return new Date(ms).toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
}

/** The label of a day separator: "Today", "Yesterday" or a full date. */
export function dayLabel(ms: number, now: number = Date.now()): string {
  const days = Math.round((startOfDay(now) - startOfDay(ms)) / DAY);
  if (days <= 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return new Date(ms).toLocaleDateString(undefined, {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
  });
}

/** A duration as minutes and seconds, counting whole seconds: 7400 → "0:07", 60000 → "1:00". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor((Number.isFinite(ms) ? ms : 0) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * What a message says in one line (the conversation list): its text, a voice note's length, or
 * what an album holds followed by its caption.
 */
/** The line the server wrote about a group ("bob left"), or null for a message someone wrote. */
export function eventText(m: MessageView): string | null {
  const e = m.event;
  if (!e) return null;
  switch (e.type) {
    case 'left':
      return `${e.username} left`;
    case 'removed':
      return `${m.sender} removed ${e.username}`;
    case 'renamed':
      return `${m.sender} renamed the group to “${e.name}”`;
  }
}

/** What stands in for a message from someone this account blocked. */
export const BLOCKED_PLACEHOLDER = 'Message from someone you blocked';

export function previewText(m: MessageView): string {
  const line = eventText(m);
  if (line) return line;
  if (m.blocked_sender) return BLOCKED_PLACEHOLDER;
  if (m.voice) return `🎤 Voice message (${duration(m.voice.duration_ms)})`;
  const text = m.text.replace(/\s+/g, ' ').trim();
  if (m.media.length === 0) return m.text.replace(/\s+/g, ' ');
  const videos = m.media.filter((i) => i.kind === 'video').length;
  const photos = m.media.length - videos;
  const count = (n: number, one: string, many: string) => (n === 1 ? one : `${n} ${many}`);
  let what = `🖼 ${photos} ${photos === 1 ? 'photo' : 'photos'}, ${videos} ${videos === 1 ? 'video' : 'videos'}`;
  if (videos === 0) what = `📷 ${count(photos, 'Photo', 'photos')}`;
  if (photos === 0) what = `🎬 ${count(videos, 'Video', 'videos')}`;
  return text ? `${what} · ${text}` : what;
}

/** Whether a day separator goes before `messages[i]`. */
export function startsNewDay(messages: MessageView[], i: number): boolean {
  if (i === 0) return true;
  return startOfDay(messages[i - 1].sent_at) !== startOfDay(messages[i].sent_at);
}

export const TICKS: Record<MessageStatus, { icon: string; label: string }> = {
  sending: { icon: '◷', label: 'Sending' },
  sent: { icon: '✓', label: 'Sent' },
  delivered: { icon: '✓✓', label: 'Delivered' },
  read: { icon: '✓✓', label: 'Read' },
  failed: { icon: '!', label: 'Not sent' },
  received: { icon: '', label: '' },
};

/**
 * Inserts or replaces `m` in a list ordered by sort_key, returning a new array. A message that
 * changed sort_key (sent → acknowledged) moves to its new place.
 */
export function upsertMessage(list: MessageView[], m: MessageView): MessageView[] {
  const without = list.filter((x) => x.id !== m.id);
  let lo = 0;
  let hi = without.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (without[mid].sort_key < m.sort_key) lo = mid + 1;
    else hi = mid;
  }
  return [...without.slice(0, lo), m, ...without.slice(lo)];
}

/**
 * Merges the newest page into the loaded window. If the page does not reach back to the newest
 * acknowledged message already loaded, messages in between were never loaded: the window
 * restarts from the page (older ones load again on scrolling up), so it never has a hole.
 */
export function mergeNewest(
  window: MessageView[],
  page: MessageView[],
  pageSize: number,
): { messages: MessageView[]; restarted: boolean } {
  const acked = window.filter((m) => m.seq !== null);
  const newestLoaded = acked.length ? acked[acked.length - 1].sort_key : -1;
  const reaches = page.length < pageSize || window.length === 0 || page[0].sort_key <= newestLoaded;
  if (!reaches) return { messages: page, restarted: true };
  let merged = window;
  for (const m of page) merged = upsertMessage(merged, m);
  return { messages: merged, restarted: false };
}

/** Splits what the user typed in "new group" into usernames. */
export function parseMembers(raw: string): string[] {
  return [...new Set(raw.split(/[\s,;]+/).map((s) => s.trim().replace(/^@/, '').toLowerCase()).filter(Boolean))];
}
