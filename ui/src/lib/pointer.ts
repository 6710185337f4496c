/** Keeps the events of a pressed pointer on its element until it lifts, where the web view can
 * (not in jsdom; not for a pointer the browser does not know, which throws). */
export function capture(e: PointerEvent) {
  try {
    (e.currentTarget as HTMLElement | null)?.setPointerCapture?.(e.pointerId);
  } catch {
    // Without capture the press still works while the pointer stays on the element.
  }
}
