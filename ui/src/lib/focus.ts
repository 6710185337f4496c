// Modal sheets (editor, viewer, camera): Tab stays inside while they are open, and focus goes
// back where it was when they close.

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), video[controls], [tabindex]:not([tabindex="-1"])';

function focusables(root: HTMLElement): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => !el.closest('[hidden], [inert]'));
}

/**
 * Svelte action: traps Tab in `node`, focuses `initial` (a selector inside it) or the node
 * itself on open, and gives focus back to what had it on close.
 */
export function trapFocus(node: HTMLElement, initial?: string) {
  const before = document.activeElement as HTMLElement | null;
  queueMicrotask(() => {
    const first = initial ? node.querySelector<HTMLElement>(initial) : null;
    (first ?? node).focus();
  });
  function keydown(e: KeyboardEvent) {
    if (e.key !== 'Tab') return;
    const list = focusables(node);
    if (list.length === 0) {
      e.preventDefault();
      node.focus();
      return;
    }
    const first = list[0];
    const last = list[list.length - 1];
    const active = document.activeElement;
    if (e.shiftKey && (active === first || active === node || !node.contains(active))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (active === last || !node.contains(active))) {
      e.preventDefault();
      first.focus();
    }
  }
  node.addEventListener('keydown', keydown);
  return {
    destroy() {
      node.removeEventListener('keydown', keydown);
      if (before && document.contains(before)) before.focus();
    },
  };
}
