// Test helper: jsdom has <dialog> without its methods. This behaves like a browser where the
// tests look: showModal opens it, close closes it and fires `close`.

export function installFakeDialog() {
  const proto = HTMLDialogElement.prototype;
  Object.defineProperty(proto, 'open', {
    configurable: true,
    get(this: HTMLDialogElement) {
      return this.hasAttribute('open');
    },
    set(this: HTMLDialogElement, on: boolean) {
      this.toggleAttribute('open', on);
    },
  });
  proto.show = function (this: HTMLDialogElement) {
    this.open = true;
  };
  proto.showModal = function (this: HTMLDialogElement) {
    this.open = true;
  };
  proto.close = function (this: HTMLDialogElement) {
    if (!this.open) return;
    this.open = false;
    this.dispatchEvent(new Event('close'));
  };
}
