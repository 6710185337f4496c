// The app installed from its .deb, as a tester starts it: from the desktop entry's command,
// with no arguments. First start asks for the server and signs up there; data lands in the
// app-data directory; the server is remembered; updates are found, a forged one is refused and
// the real one is installed. tests/installer/run.sh builds, installs and afterwards purges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session } from '../e2e/webdriver.mjs';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set; run tests/installer/run.sh`);
  return v;
};
const DRIVER = env('NATTER_INSTALL_DRIVER');
const SERVER = env('NATTER_INSTALL_SERVER');
const HOME = env('NATTER_INSTALL_HOME');
const WORK = env('NATTER_INSTALL_WORK');
const SITE = env('NATTER_INSTALL_SITE');
const SITE_URL = env('NATTER_INSTALL_SITE_URL');
const SHOTS = env('NATTER_E2E_SHOTS');
const FILES = readFileSync(env('NATTER_INSTALL_FILES'), 'utf8').split('\n').filter(Boolean);

const installedVersion = () =>
  execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'natter'], { encoding: 'utf8' }).trim();

// The command the desktop entry runs: what a tester's launcher starts.
function desktopEntry() {
  const entry = FILES.find((f) => f.startsWith('/usr/share/applications/') && f.endsWith('.desktop'));
  assert.ok(entry, `the package installs a desktop entry (files: ${FILES.join(', ')})`);
  return readFileSync(entry, 'utf8');
}

async function start() {
  const exec = /^Exec=(\S+)/m.exec(desktopEntry())[1];
  const app = exec.startsWith('/') ? exec : `/usr/bin/${exec}`;
  const s = await Session.start(DRIVER, { 'tauri:options': { application: app } });
  await s.setWindowRect({ width: 1100, height: 760 }).catch(() => {});
  return s;
}

/** The manifest the updater reads: version 0.1.1 of the .deb, with the given signature. */
function publish(signature) {
  writeFileSync(
    join(SITE, 'latest.json'),
    JSON.stringify({
      version: '0.1.1',
      notes: 'Natter 0.1.1 for testers: <b>faster</b> chats.',
      pub_date: new Date().toISOString(),
      platforms: {
        'linux-x86_64-deb': { signature, url: `${SITE_URL}/Natter_0.1.1_amd64.deb` },
      },
    }),
  );
}

test('the package installs the app with its desktop entry and icons', () => {
  const entry = desktopEntry();
  assert.match(entry, /^Name=Natter$/m);
  assert.match(entry, /^Categories=.*(Network|Chat|InstantMessaging)/m);
  const icon = /^Icon=(.+)$/m.exec(entry)[1];
  const icons = FILES.filter((f) => f.startsWith('/usr/share/icons/') && f.includes(`/${icon}.png`));
  assert.ok(icons.length >= 3, `icons in several sizes for ${icon}: ${icons.join(', ')}`);
  for (const f of icons) assert.ok(existsSync(f), `${f} is installed`);
  assert.equal(installedVersion(), '0.1.0');
});

test('first start: choose the server, sign up, data in the app-data directory, remembered', async (t) => {
  const s = await start();
  t.after(() => s.end());

  // Asked for the server before anything else; an address with no Natter server is refused.
  const address = await s.waitFor('[data-testid="first-server-url"]');
  await address.clear();
  await address.type('http://127.0.0.1:1');
  await (await s.find('[data-testid="choose-server-submit"]')).click();
  const refusal = await s.waitFor('[role="alert"]');
  assert.match(await refusal.text(), /no Natter server answers at http:\/\/127\.0\.0\.1:1/);
  await address.clear();
  await address.type(SERVER);
  await (await s.find('[data-testid="choose-server-submit"]')).click();

  // The sign-up form, against that server.
  await (await s.waitFor('[data-testid="username"]')).type('tess');
  await (await s.find('[data-testid="password"]')).type('tester-password-1');
  await s.execute(
    `const el = document.querySelector('[data-testid="birthdate"]');
     el.value = '1991-03-03';
     el.dispatchEvent(new Event('input', { bubbles: true }));
     el.dispatchEvent(new Event('change', { bubbles: true }));`,
  );
  await (await s.find('[data-testid="signup-submit"]')).click();
  await s.waitFor('[data-testid="new-chat"]');
  writeFileSync(join(SHOTS, 'installed-signed-up.png'), await s.screenshot());

  // The tester's data lives in the platform's app-data directory, not beside the binary.
  const profile = join(HOME, '.local/share/app.natter/profile');
  assert.ok(existsSync(join(profile, 'natter.db')), `the cache is in ${profile}`);

  // Signed out and started again: the server is still the chosen one, no question asked.
  await (await s.find('[data-testid="logout"]')).click();
  await s.waitFor('[data-testid="login-submit"], [data-testid="signup-submit"]');
  await s.end();
  const again = await start();
  t.after(() => again.end());
  await again.waitFor('[data-testid="signup-submit"]');
  assert.equal((await again.findAll('[data-testid="first-server-url"]')).length, 0, 'not asked again');
  await (await again.find('[data-testid="show-server"]')).click();
  const field = await again.waitFor('[data-testid="server-url"]');
  assert.equal(await field.prop('value'), SERVER.replace(/\/$/, ''));
  await (await again.find('[data-testid="switch-to-login"]')).click();
  await (await again.waitFor('[data-testid="username"]')).type('tess');
  await (await again.find('[data-testid="password"]')).type('tester-password-1');
  await (await again.find('[data-testid="login-submit"]')).click();
  await again.waitFor('[data-testid="new-chat"]');
});

test('updates: a forged signature is refused, the signed 0.1.1 is installed', async (t) => {
  // Published with a signature from another key: found, downloaded, refused, nothing installed.
  publish(readFileSync(join(WORK, 'forged.sig'), 'utf8'));
  const s = await start();
  t.after(() => s.end());
  await (await s.waitFor('[data-testid="settings-open"]')).click();
  const status = await s.waitFor('[data-testid="update-status"]');
  await s.until('the update to be found', async () => (await status.text()).includes('0.1.1 is available'));
  // The notes are shown as text: the markup in them is not rendered.
  assert.equal(await (await s.find('[data-testid="update-notes"]')).text(), 'Natter 0.1.1 for testers: <b>faster</b> chats.');
  await (await s.find('[data-testid="update-install"]')).click();
  const error = await s.waitFor('[data-testid="update-error"]', 120000);
  assert.match(await error.text(), /signature does not match/);
  assert.equal(installedVersion(), '0.1.0', 'nothing was installed');
  writeFileSync(join(SHOTS, 'installed-update-refused.png'), await s.screenshot());
  // The release stays offered: "Install" again downloads and checks it again, and refuses it
  // for the same reason (it once answered "no update to install" here).
  await (await s.find('[data-testid="update-install"]')).click();
  await s.until('the earlier error to be cleared', async () => (await s.findAll('[data-testid="update-error"]')).length === 0);
  const again = await s.waitFor('[data-testid="update-error"]', 120000);
  assert.match(await again.text(), /signature does not match/);
  assert.equal(installedVersion(), '0.1.0', 'still nothing installed');

  // The real signature: installed through the package manager.
  copyFileSync(join(WORK, 'Natter_0.1.1_amd64.deb.sig'), join(WORK, 'good.sig'));
  publish(readFileSync(join(WORK, 'good.sig'), 'utf8'));
  await (await s.find('[data-testid="update-check"]')).click();
  await s.until('the update to be found again', async () => (await status.text()).includes('0.1.1 is available'));
  await (await s.find('[data-testid="update-install"]')).click();
  await s.waitFor('[data-testid="update-restart"]', 180000);
  assert.match(await status.text(), /0\.1\.1 is installed/);
  assert.equal(installedVersion(), '0.1.1');
  writeFileSync(join(SHOTS, 'installed-update-installed.png'), await s.screenshot());
});
