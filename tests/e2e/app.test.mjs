// The real app, end to end: sign up in the UI, open a chat with a user made through the CLI,
// send a message, get a reply live, and see the ticks turn to read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session, KEY_ENTER } from './webdriver.mjs';

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

test('sign up, chat with a CLI user, receive a live reply', async (t) => {
  natter('bob', 'signup', '--username', 'bob', '--password', 'bob-password-1', '--birthdate', '1992-02-02');

  const s = await Session.start(env('NATTER_E2E_DRIVER'), {
    'tauri:options': {
      application: env('NATTER_E2E_APP'),
      args: ['--profile', join(WORK, 'alice-app'), '--server', SERVER],
    },
  });
  t.after(() => s.end());
  await s.setWindowRect({ width: 1100, height: 760 }).catch(() => {});

  // Sign up.
  await (await s.waitFor('[data-testid="username"]')).type('alice');
  await (await s.find('[data-testid="password"]')).type('alice-password-1');
  // A date input has no keyboard format WebDriver can rely on: set it the way a picker does.
  await s.execute(
    `const el = document.querySelector('[data-testid="birthdate"]');
     el.value = '1990-04-01';
     el.dispatchEvent(new Event('input', { bubbles: true }));
     el.dispatchEvent(new Event('change', { bubbles: true }));`,
  );
  await (await s.find('[data-testid="signup-submit"]')).click();

  // New chat with bob.
  await (await s.waitFor('[data-testid="new-chat"]')).click();
  await (await s.waitFor('[data-testid="new-chat-username"]')).type('bob');
  await (await s.find('[data-testid="new-chat-submit"]')).click();
  const title = await s.waitFor('[data-testid="conversation-title"]');
  await s.until('the chat with bob to open', async () => (await title.text()).includes('bob'));

  // Online: no "Connecting…" or "Offline" banner.
  await s.until('the connection banner to go away', async () =>
    (await s.execute(`return document.querySelectorAll('.banner').length`)) === 0,
  );

  // Send with Enter.
  const composer = await s.waitFor('[data-testid="composer"]');
  await composer.type('Hello from the app <b>not bold</b>');
  await composer.type(KEY_ENTER);
  const mine = await s.until('my message bubble', async () => {
    for (const m of await s.findAll('[data-testid="message"][data-mine="true"]')) {
      if ((await m.text()).includes('Hello from the app <b>not bold</b>')) return m;
    }
  });
  assert.equal(await composer.prop('value'), '', 'the composer is cleared after sending');

  // Bob, on the command line, got it (text exactly as typed, markup and all).
  const bobView = await (async () => {
    for (let i = 0; i < 100; i++) {
      const msgs = JSON.parse(natter('bob', 'messages', '--with', 'alice', '--json'));
      if (msgs.length) return msgs;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('bob never received the message');
  })();
  assert.equal(bobView[0].text, 'Hello from the app <b>not bold</b>');
  assert.equal(bobView[0].sender, 'alice');

  // Bob read it (messages marks read), so the app's ticks turn to read.
  await s.until('the read ticks', async () => (await mine.attr('data-status')) === 'read');

  // Bob replies; the app shows it live, without any reload.
  natter('bob', 'send', '--to', 'alice', '--text', 'Hi alice, this is bob on the CLI');
  await s.until('bob\'s reply', async () => {
    for (const m of await s.findAll('[data-testid="message"][data-mine="false"]')) {
      if ((await m.text()).includes('Hi alice, this is bob on the CLI')) return m;
    }
  });
  // Reading it in the open chat leaves nothing unread in the list.
  await s.until('the unread badge to clear', async () =>
    (await s.execute(`return document.querySelectorAll('[data-testid="conversation-item"] .badge').length`)) === 0,
  );

  // Markup in a message is shown as text, never rendered.
  const bolds = await s.execute(`return document.querySelectorAll('[data-testid="message-text"] b').length`);
  assert.equal(bolds, 0);

  writeFileSync(join(SHOTS, 'conversation.png'), await s.screenshot());
  await s.setWindowRect({ width: 390, height: 844 }).catch(() => {});
  await new Promise((r) => setTimeout(r, 500));
  writeFileSync(join(SHOTS, 'conversation-phone.png'), await s.screenshot());
  await s.setWindowRect({ width: 1100, height: 760 }).catch(() => {});

  // A draft stays with its chat.
  await (await s.find('[data-testid="composer"]')).type('draft for bob');

  // A group: made in the app, written to, and grown by its creator.
  natter('carol', 'signup', '--username', 'carol', '--password', 'carol-password-1', '--birthdate', '1991-03-03');
  await (await s.waitFor('[data-testid="new-group"]')).click();
  await (await s.waitFor('[data-testid="group-name"]')).type('Weekend plans');
  await (await s.find('[data-testid="group-members"]')).type('bob');
  await (await s.find('[data-testid="group-submit"]')).click();
  await s.until('the group to open', async () =>
    (await (await s.find('[data-testid="conversation-title"]')).text()) === 'Weekend plans',
  );
  const groupComposer = await s.waitFor('[data-testid="composer"]');
  assert.equal(await groupComposer.prop('value'), '', "bob's draft does not follow into the group");
  await groupComposer.type('Picnic on Saturday?');
  await groupComposer.type(KEY_ENTER);
  await (await s.waitFor('[data-testid="add-member"]')).click();
  await (await s.waitFor('[data-testid="add-member-username"]')).type('carol');
  await (await s.find('[data-testid="add-member-submit"]')).click();
  await s.until('carol in the member list', async () =>
    (await (await s.find('[data-testid="group-member-list"]')).text()).includes('carol'),
  );
  // Being added is an invitation: bob accepts it, then it is one of his chats.
  const invited = JSON.parse(natter('bob', 'requests', '--json')).filter((c) => c.kind === 'group');
  assert.equal(invited.length, 1);
  assert.equal(invited[0].inviter, 'alice');
  natter('bob', 'accept', '--conversation', invited[0].id);
  const groups = JSON.parse(natter('bob', 'conversations', '--json')).filter((c) => c.kind === 'group');
  assert.equal(groups.length, 1);
  assert.equal(groups[0].title, 'Weekend plans');
  assert.deepEqual(groups[0].members, ['alice', 'bob', 'carol']);
  assert.equal(groups[0].last_message.text, 'Picnic on Saturday?');
  assert.equal(await s.execute(`return document.querySelectorAll('.banner').length`), 0, 'still online');
  writeFileSync(join(SHOTS, 'group.png'), await s.screenshot());

  await (await s.find('[data-testid="conversation-item"][data-title="bob"]')).click();
  await s.until("bob's draft back in his chat", async () =>
    (await (await s.find('[data-testid="composer"]')).prop('value')) === 'draft for bob',
  );
});
