// Groups in the real app: being added to one is an invitation, shown beside message requests
// with Accept and Decline; until accepted only its texts show, and after Accept its photos
// arrive; the member list offers Report and Block per member; Leave works from the group's
// menu, and the others see the line.
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

async function texts(s, css) {
  return s.execute(`return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent)`, [css]);
}

test('a group invitation: texts only, Accept brings the photos, members can be reported, Leave works', async (t) => {
  // A 17-year-old in the app; a stranger and a friend on the command line.
  const born = new Date(Date.now() - (17 * 365 + 10) * 86400e3).toISOString().slice(0, 10);
  natter('tess-app', 'signup', '--username', 'tess', '--password', 'tess-password-1', '--birthdate', born);
  natter('stan', 'signup', '--username', 'stan', '--password', 'stan-password-1', '--birthdate', '1980-02-02');
  natter('fred', 'signup', '--username', 'fred', '--password', 'fred-password-1', '--birthdate', '1991-03-03');

  const group = JSON.parse(natter('stan', 'group-create', '--name', 'Hiking club', '--members', 'tess,fred', '--json'));
  natter('fred', 'accept', '--conversation', group.id);
  natter('stan', 'send', '--conversation', group.id, '--text', 'hello there');
  const photo = join(WORK, 'hike.jpg');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=800x600:rate=1', '-frames:v', '1', photo]);
  natter('stan', 'send', '--conversation', group.id, '--media', photo, '--caption', 'summit!');

  const s = await app('tess-app');
  t.after(() => s.end());
  // The invitation waits with the requests, saying who invited and how many are in it.
  const entry = await s.waitFor('[data-testid="requests-entry"]');
  await entry.click();
  const item = await s.waitFor('[data-testid="request-item"][data-title="Hiking club"]');
  await s.until('the invitation to say who invited', async () =>
    (await texts(s, '[data-testid="request-item"][data-title="Hiking club"]')).some((t) => /Invited by stan · 3 members/.test(t)),
  );
  await item.click();
  const banner = await s.waitFor('[data-testid="invitation-banner"]');
  assert.match(await banner.text(), /stan invited you to Hiking club \(3 members\)/);
  assert.ok(await s.find('[data-testid="request-accept"]'), 'Accept');
  assert.match(await (await s.find('[data-testid="request-delete"]')).text(), /Decline/);
  await s.until('the text', async () => (await texts(s, '[data-testid="message-text"]')).includes('hello there'));
  assert.equal((await s.findAll('[data-testid="album"]')).length, 0, 'no photo before accepting');
  assert.equal((await s.findAll('[data-testid="composer"]')).length, 0, 'no reply before accepting');
  writeFileSync(join(SHOTS, 'group-invitation.png'), await s.screenshot());

  // Accept: the group joins the chats and its photo arrives.
  await (await s.find('[data-testid="request-accept"]')).click();
  await s.until('the banner to go', async () => (await s.findAll('[data-testid="invitation-banner"]')).length === 0);
  await s.waitFor('[data-testid="composer"]');
  await s.waitFor('[data-testid="album"][data-count="1"]', 30000);
  assert.ok((await texts(s, '[data-testid="album-caption"]')).includes('summit!'));
  writeFileSync(join(SHOTS, 'group-accepted.png'), await s.screenshot());

  // The member list: the admin marked, Report and Block for each other member.
  await (await s.find('[data-testid="group-members-open"]')).click();
  const dialog = await s.waitFor('[data-testid="group-members-dialog"]');
  await s.until('three members listed', async () => (await s.findAll('[data-testid="group-member"]')).length === 3);
  assert.equal((await s.findAll('[data-testid="group-member"][data-username="stan"] [data-testid="member-report"]')).length, 1);
  assert.equal((await s.findAll('[data-testid="group-member"][data-username="stan"] [data-testid="member-block"]')).length, 1);
  assert.equal((await s.findAll('[data-testid="member-remove"]')).length, 0, 'only the admin removes');
  writeFileSync(join(SHOTS, 'group-members.png'), await s.screenshot());
  assert.ok(dialog);

  // Leave, from the group's menu: gone from tess's chats; the others see "tess left".
  await (await s.find('[data-testid="group-leave"]')).click();
  // The confirmation replaces the button in place; click it once it can take the click.
  await s.until('Leave confirmed', async () => {
    const confirm = (await s.findAll('[data-testid="group-leave-confirm"]'))[0];
    if (!confirm) return false;
    try {
      await confirm.click();
      return true;
    } catch {
      return false;
    }
  });
  await s.until('the group to leave the list', async () =>
    (await s.findAll('[data-testid="conversation-item"][data-title="Hiking club"]')).length === 0,
  );
  const seen = natter('fred', 'messages', '--conversation', group.id);
  assert.match(seen, /tess left/);
  writeFileSync(join(SHOTS, 'group-left.png'), await s.screenshot());
});
