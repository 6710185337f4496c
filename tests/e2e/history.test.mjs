// Scrolling back through a long chat: 10,000 messages arrive while the app is closed; the app
// reopens signed in, catches up, and the reader scrolls all the way back to the first message.
// Runs after app.test.mjs (same profiles). Prints the frame timings it saw; asserts only what a
// reader would notice: every message is reachable, once, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Session } from './webdriver.mjs';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set; run tests/e2e/run.sh`);
  return v;
};
const SERVER = env('NATTER_E2E_SERVER');
const WORK = env('NATTER_E2E_WORK');
const COUNT = 10_000;

function uuidv7() {
  const b = randomBytes(16);
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i++) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

async function api(path, token, body) {
  const res = await fetch(SERVER + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

test('10,000 messages: catch up after a restart and scroll back to the first', async (t) => {
  // The app is closed; bob writes a lot.
  const { token } = await api('/v1/login', null, { username: 'bob', password: 'bob-password-1' });
  const conv = await api('/v1/conversations/direct', token, { username: 'alice' });
  let next = 0;
  const worker = async () => {
    while (next < COUNT) {
      const i = next++;
      await api(`/v1/conversations/${conv.id}/messages`, token, { id: uuidv7(), text: `history ${i}` });
    }
  };
  const seeded = Date.now();
  await Promise.all(Array.from({ length: 8 }, worker));
  console.log(`seeded ${COUNT} messages in ${Date.now() - seeded} ms`);

  // Reopen the app on alice's profile: still signed in, no log-in screen.
  const s = await Session.start(env('NATTER_E2E_DRIVER'), {
    'tauri:options': {
      application: env('NATTER_E2E_APP'),
      args: ['--profile', join(WORK, 'alice-app'), '--server', SERVER],
    },
  });
  t.after(() => s.end());
  await s.setTimeouts({ script: 300_000 });
  const item = await s.waitFor('[data-testid="conversation-item"][data-title="bob"]');
  await item.click();
  await s.until('the newest message', async () =>
    (await s.execute(`return [...document.querySelectorAll('[data-testid="message-text"]')].some(e => e.textContent === 'history ${COUNT - 1}')`)),
    60_000,
  );

  // Scroll to the top again and again, as a reader flicking back would, until the start.
  const result = await s.executeAsync(`
    const done = arguments[arguments.length - 1];
    const scroller = document.querySelector('[role="log"]');
    const gaps = [];
    let last = performance.now();
    let running = true;
    const frame = (now) => { gaps.push(now - last); last = now; if (running) requestAnimationFrame(frame); };
    requestAnimationFrame(frame);
    const started = performance.now();
    const seen = [];
    const seenSet = new Set();
    let maxRows = 0;
    const collect = () => {
      const els = [...document.querySelectorAll('[data-testid="message-text"]')];
      maxRows = Math.max(maxRows, els.length);
      // Walk from the bottom up: scrolling back meets newer messages first.
      for (const e of els.reverse()) {
        if (!seenSet.has(e.textContent)) { seenSet.add(e.textContent); seen.push(e.textContent); }
      }
    };
    const step = () => {
      collect();
      if (scroller.querySelector('.start')) {
        running = false;
        const first = document.querySelector('[data-testid="message-text"]').textContent;
        const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
        const early = median(gaps.slice(1, 31));
        const late = median(gaps.slice(-30));
        gaps.sort((a, b) => a - b);
        done({
          seen,
          first,
          maxRows,
          ms: performance.now() - started,
          frames: gaps.length,
          p50: gaps[Math.floor(gaps.length * 0.5)],
          p95: gaps[Math.floor(gaps.length * 0.95)],
          max: gaps[gaps.length - 1],
          early,
          late,
        });
        return;
      }
      if (performance.now() - started > 280000) { running = false; done({ error: 'never reached the start' }); return; }
      scroller.scrollTop = 0;
      scroller.dispatchEvent(new Event('scroll'));
      setTimeout(step, 30);
    };
    step();
  `);
  assert.equal(result.error, undefined, result.error);
  const history = result.seen.filter((x) => x.startsWith('history '));
  assert.equal(history.length, COUNT, 'every message is reachable');
  const numbers = history.map((x) => Number(x.slice(8))).sort((a, b) => a - b);
  assert.deepEqual(numbers, Array.from({ length: COUNT }, (_, i) => i));
  assert.equal(result.first, 'Hello from the app <b>not bold</b>', 'the first message is at the top');
  // Back at the top, one tap returns to the newest message.
  await (await s.waitFor('[data-testid="jump-to-newest"]')).click();
  const res = await fetch(`${SERVER}/v1/conversations/${conv.id}/messages?limit=1`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const [newest] = await res.json();
  await s.until('the newest message after jumping', async () => {
    const texts = await s.execute(`return [...document.querySelectorAll('[data-testid="message-text"]')].map(e => e.textContent)`);
    return texts.at(-1) === newest.text && (await s.findAll('[data-testid="jump-to-newest"]')).length === 0;
  });

  console.log(
    `scrolled back through ${result.seen.length} messages in ${Math.round(result.ms)} ms ` +
      `(at most ${result.maxRows} on screen at once); ` +
      `frame gaps p50 ${result.p50.toFixed(1)} ms, p95 ${result.p95.toFixed(1)} ms, max ${result.max.toFixed(1)} ms over ${result.frames} frames ` +
      `(median of the first 30: ${result.early.toFixed(1)} ms, of the last 30: ${result.late.toFixed(1)} ms)`,
  );
});
