// A minimal W3C WebDriver client over fetch: just what the end-to-end tests use.
export class Session {
  static async start(driver, capabilities) {
    const res = await call(driver, 'POST', '/session', { capabilities: { alwaysMatch: capabilities } });
    return new Session(driver, res.sessionId);
  }
  constructor(driver, id) {
    this.base = `${driver}/session/${id}`;
    this.driver = driver;
  }
  cmd(method, path, body) {
    return call(this.base, method, path, body);
  }
  async find(css) {
    const el = await this.cmd('POST', '/element', { using: 'css selector', value: css });
    return new Element(this, Object.values(el)[0]);
  }
  async findAll(css) {
    const els = await this.cmd('POST', '/elements', { using: 'css selector', value: css });
    return els.map((e) => new Element(this, Object.values(e)[0]));
  }
  /** Waits until `css` matches an element, or fails after `ms`. */
  async waitFor(css, ms = 20000) {
    return this.until(`${css} to appear`, async () => (await this.findAll(css))[0], ms);
  }
  /** Polls `check` until it returns something truthy. */
  async until(what, check, ms = 20000) {
    const end = Date.now() + ms;
    let last;
    while (Date.now() < end) {
      try {
        const v = await check();
        if (v) return v;
      } catch (e) {
        last = e;
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
  }
  execute(script, args = []) {
    return this.cmd('POST', '/execute/sync', { script, args });
  }
  /** Runs an async script: it gets its arguments, and the last one is the callback. */
  executeAsync(script, args = []) {
    return this.cmd('POST', '/execute/async', { script, args });
  }
  setTimeouts(t) {
    return this.cmd('POST', '/timeouts', t);
  }
  async screenshot() {
    return Buffer.from(await this.cmd('GET', '/screenshot'), 'base64');
  }
  setWindowRect(rect) {
    return this.cmd('POST', '/window/rect', rect);
  }
  async end() {
    try {
      await this.cmd('DELETE', '');
    } catch {
      // the app may already be gone
    }
  }
}

export class Element {
  constructor(session, id) {
    this.s = session;
    this.path = `/element/${id}`;
  }
  click() {
    return this.s.cmd('POST', `${this.path}/click`, {});
  }
  type(text) {
    return this.s.cmd('POST', `${this.path}/value`, { text });
  }
  clear() {
    return this.s.cmd('POST', `${this.path}/clear`, {});
  }
  text() {
    return this.s.cmd('GET', `${this.path}/text`);
  }
  prop(name) {
    return this.s.cmd('GET', `${this.path}/property/${name}`);
  }
  attr(name) {
    return this.s.cmd('GET', `${this.path}/attribute/${name}`);
  }
}

export const KEY_ENTER = '\uE007';

async function call(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const v = json.value ?? {};
    throw new Error(`${method} ${path}: ${res.status} ${v.error ?? ''} ${v.message ?? ''}`);
  }
  return json.value;
}
