// The age rule in the real app: an account under 16 sees why it has no chats, not a chat list
// that never loads.
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
