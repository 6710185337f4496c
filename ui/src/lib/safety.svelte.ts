// What the safety rules change on screen. The core decides (the nudity classifier's verdict
// and the viewer's age and filter become each item's `display`); this keeps only which
// blurred items the user chose to see, for as long as the app runs.
import { SvelteSet } from 'svelte/reactivity';
import type { ConversationView, MediaItemView } from './bindings';

const revealed = new SvelteSet<string>();

/**
 * Whether an item may be drawn and its files fetched: shown ones, and blurred ones the user
 * tapped to view. Anything else (hidden, or a value this build does not know) stays covered.
 */
export function viewable(item: Pick<MediaItemView, 'media_id' | 'display'>): boolean {
  return item.display === 'show' || (item.display === 'blur' && revealed.has(item.media_id));
}

/** "Tap to view" on a blurred item: it shows until the app closes (never a hidden one). */
export function reveal(item: Pick<MediaItemView, 'media_id' | 'display'>) {
  if (item.display === 'blur') revealed.add(item.media_id);
}

/** Forgets what was revealed (signing out; tests). */
export function forgetRevealed() {
  revealed.clear();
}

/** The other person of a direct conversation (their username), or null for a group. */
export function otherPerson(c: ConversationView, me: string | undefined): string | null {
  if (c.kind !== 'direct') return null;
  return c.members.find((m) => m !== me) ?? c.title;
}
