// The safety rules in the real app: an account under 16 sees why it has no chats, not a chat
// list that never loads; a new conversation keeps photos, videos and voice notes for after a
// first text, and says so; a message request from a stranger waits in Requests behind a banner
// until it is accepted. (The reminder before a photo goes out is album.test.mjs's.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session } from './webdriver.mjs';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set; run tests/e2e/run.sh`);
  return v;
};
const SERVER = env('NATTER_E2E_SERVER');
const WORK = env('NATTER_E2E_WORK');
const SHOTS = env('NATTER_E2E_SHOTS');

function natter(profile, ...args) {
  return execFileSync(env('NATTER_E2E_CLI'), ['--server', SERVER, '--profile', join(WORK, profile), ...args], {
    encoding: 'utf8',
  });
}

async function app(profile) {
  const s = await Session.start(env('NATTER_E2E_DRIVER'), {
    'tauri:options': {
      application: env('NATTER_E2E_APP'),
      args: ['--profile', join(WORK, profile), '--server', SERVER],
    },
  });
  await s.setWindowRect({ width: 1100, height: 800 }).catch(() => {});
  return s;
}

/** The text of every element matching `css`. */
async function texts(s, css) {
  return s.execute(`return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent)`, [css]);
}

test('an account under 16 is told why there are no direct messages', async (t) => {
  // 15 years and a few days old today (the CLI may sign up anyone 13 or older).
  const born = new Date(Date.now() - (15 * 365 + 10) * 86400e3).toISOString().slice(0, 10);
  execFileSync(env('NATTER_E2E_CLI'), [
    '--server', SERVER, '--profile', join(WORK, 'teen-app'),
    'signup', '--username', 'sam', '--password', 'sam-password-1', '--birthdate', born,
  ]);
  const s = await Session.start(env('NATTER_E2E_DRIVER'), {
    'tauri:options': {
      application: env('NATTER_E2E_APP'),
      args: ['--profile', join(WORK, 'teen-app'), '--server', SERVER],
    },
  });
  t.after(() => s.end());
  await s.setWindowRect({ width: 390, height: 844 }).catch(() => {});
  const screen = await s.waitFor('[data-testid="dm-unavailable"]');
  assert.match(await screen.text(), /16th birthday/);
  assert.equal((await s.findAll('[data-testid="conversation-item"], [data-testid="new-chat"]')).length, 0);
  writeFileSync(join(env('NATTER_E2E_SHOTS'), 'under-16.png'), await s.screenshot());
});

test('a new conversation: photos, videos and voice notes wait for a first text, and say so', async (t) => {
  natter('nora-app', 'signup', '--username', 'nora', '--password', 'nora-password-1', '--birthdate', '1993-07-07');
  natter('omar', 'signup', '--username', 'omar', '--password', 'omar-password-1', '--birthdate', '1994-04-04');

  const s = await app('nora-app');
  t.after(() => s.end());
  await (await s.waitFor('[data-testid="new-chat"]')).click();
  await (await s.waitFor('[data-testid="new-chat-username"]')).type('omar');
  await (await s.find('[data-testid="new-chat-submit"]')).click();
  const title = await s.waitFor('[data-testid="conversation-title"]');
  await s.until('the chat with omar to open', async () => (await title.text()) === 'omar');
  await s.waitFor('[data-testid="composer"]');

  // Nobody has written yet: the controls are there, marked disabled, with the rule's words.
  for (const id of ['attach', 'camera', 'record']) {
    const el = await s.waitFor(`[data-testid="${id}"]`);
    assert.equal(await el.attr('aria-disabled'), 'true', `${id} is disabled`);
    assert.match(await el.attr('title'), /first message/, `${id} says why`);
  }
  // Trying anyway says why on screen, and opens nothing.
  await (await s.find('[data-testid="attach"]')).click();
  await s.until('the reason under the composer', async () =>
    (await texts(s, '[role="status"]')).some((t) => /first message/.test(t)),
  );
  assert.equal((await s.findAll('[data-testid="album-tray"]')).length, 0, 'no picker, no tray');
  writeFileSync(join(SHOTS, 'new-conversation-media-disabled.png'), await s.screenshot());
});

test('a message request waits in Requests with a banner; Accept moves it to the chats', async (t) => {
  natter('rosa-app', 'signup', '--username', 'rosa', '--password', 'rosa-password-1', '--birthdate', '1992-06-06');
  natter('pete', 'signup', '--username', 'pete', '--password', 'pete-password-1', '--birthdate', '1990-10-10');
  natter('carl', 'signup', '--username', 'carl', '--password', 'carl-password-1', '--birthdate', '1989-01-01');
  // A chat rosa started herself, so the main list is not empty.
  natter('rosa-app', 'send', '--to', 'carl', '--text', 'Lunch tomorrow?');

  const s = await app('rosa-app');
  t.after(() => s.end());
  await s.waitFor('[data-testid="conversation-item"][data-title="carl"]');
  assert.equal((await s.findAll('[data-testid="requests-entry"]')).length, 0, 'no requests yet');

  // Pete, whom rosa never wrote to, writes while the app is open.
  natter('pete', 'send', '--to', 'rosa', '--text', 'Hi Rosa, we met at the climbing gym!');
  const entry = await s.waitFor('[data-testid="requests-entry"]');
  await s.until('the requests entry to count one', async () => /Message requests \(1\)/.test(await entry.text()));
  // Not in the main list, and no unread badge anywhere for it.
  assert.equal((await s.findAll('[data-testid="conversation-item"][data-title="pete"]')).length, 0);
  assert.equal(await s.execute(`return document.querySelectorAll('aside .badge').length`), 0, 'no unread badge');

  await entry.click();
  await (await s.waitFor('[data-testid="request-item"][data-title="pete"]')).click();
  const banner = await s.waitFor('[data-testid="request-banner"]');
  assert.match(await banner.text(), /pete wants to message you\. They can only send text until you accept\./);
  await s.until('his message', async () =>
    (await texts(s, '[data-testid="message-text"]')).some((t) => t.includes('we met at the climbing gym')),
  );
  assert.equal((await s.findAll('[data-testid="composer"]')).length, 0, 'no reply before accepting');
  writeFileSync(join(SHOTS, 'message-request.png'), await s.screenshot());

  // Pete may send text only, until rosa accepts.
  const petes = () => JSON.parse(natter('pete', 'conversations', '--json')).find((c) => c.title === 'rosa');
  assert.equal(petes()?.media_blocked?.code, 'media_requires_accepted_request');

  await (await s.find('[data-testid="request-accept"]')).click();
  await s.waitFor('[data-testid="conversation-item"][data-title="pete"]');
  await s.until('the banner to go', async () => (await s.findAll('[data-testid="request-banner"]')).length === 0);
  await s.waitFor('[data-testid="composer"]');
  assert.equal((await s.findAll('[data-testid="requests-entry"], [data-testid="request-item"]')).length, 0);
  await s.until('pete to be allowed photos', async () => petes()?.media_blocked === null);
  writeFileSync(join(SHOTS, 'message-request-accepted.png'), await s.screenshot());
});
