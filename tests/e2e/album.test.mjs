// Albums in the real app: nine photos picked (through the app's picker command; see
// NATTER_TEST_PICK in run.sh, since no WebDriver can drive a native file dialog), one cropped
// square and turned, a caption, the reminder confirmed, sent; the album shows at once in its
// grid and finishes uploading; the recipient gets it with the edit applied and sees it in the
// app.
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
const CLI = env('NATTER_E2E_CLI');
const PICK = env('NATTER_TEST_PICK');

function natter(profile, ...args) {
  return execFileSync(CLI, ['--server', SERVER, '--profile', join(WORK, profile), ...args], {
    encoding: 'utf8',
  });
}

async function app(profile, size) {
  const s = await Session.start(env('NATTER_E2E_DRIVER'), {
    'tauri:options': {
      application: env('NATTER_E2E_APP'),
      args: ['--profile', join(WORK, profile), '--server', SERVER],
    },
  });
  await s.setWindowRect(size).catch(() => {});
  return s;
}

test('nine photos picked, one cropped and turned, captioned and sent; the other side sees the album', async (t) => {
  natter('album-app', 'signup', '--username', 'pia', '--password', 'pia-password-1', '--birthdate', '1990-05-05');
  natter('quinn', 'signup', '--username', 'quinn', '--password', 'quinn-password-1', '--birthdate', '1988-08-08');
  natter('quinn', 'send', '--to', 'pia', '--text', 'Send me the photos from Porto!');
  // Pia never wrote to quinn: his message is a request until she accepts it.
  natter('album-app', 'accept', '--from', 'quinn');

  // Nine 1600×1200 test-card photos from ffmpeg (an independent encoder), each different.
  const files = [];
  for (let i = 1; i <= 9; i++) {
    const f = join(WORK, `porto-${i}.jpg`);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i',
      `testsrc2=size=1600x1200:rate=1,hue=h=${i * 40}`, '-frames:v', '1', '-q:v', '3', f]);
    files.push(f);
  }
  writeFileSync(PICK, files.join('\n'));

  const s = await app('album-app', { width: 1100, height: 800 });
  t.after(() => s.end());
  await (await s.waitFor('[data-testid="conversation-item"]')).click();
  await s.waitFor('[data-testid="message"]');
  await (await s.waitFor('[data-testid="attach"]')).click();
  await s.until('nine photos prepared in the tray', async () => {
    const items = await s.findAll('[data-testid="tray-item"][data-state="ready"]');
    return items.length === 9;
  }, 60000);

  // The first photo: square crop, a quarter turn.
  await (await s.find('[data-testid="tray-item"] [data-testid="edit-item"]')).click();
  await s.waitFor('[data-testid="media-editor"]');
  await (await s.find('[data-testid="ratio-1:1"]')).click();
  await (await s.find('[data-testid="rotate"]')).click();
  writeFileSync(join(SHOTS, 'album-editor.png'), await s.screenshot());
  await (await s.find('[data-testid="editor-done"]')).click();

  await (await s.find('[data-testid="caption"]')).type('Porto, day one');
  await (await s.find('[data-testid="send-album"]')).click();
  // The reminder first: nothing goes out until it is confirmed.
  const reminder = await s.waitFor('[data-testid="media-reminder"]');
  assert.match(await reminder.text(), /quinn will be able to see them/);
  assert.equal((await s.findAll('[data-testid="album"]')).length, 0, 'nothing sent before the reminder is confirmed');
  writeFileSync(join(SHOTS, 'media-reminder.png'), await s.screenshot());
  await (await s.find('[data-testid="reminder-send"]')).click();

  // At once: the album in its grid, nine cells.
  const album = await s.waitFor('[data-testid="album"][data-count="9"]', 10000);
  assert.ok(album);
  // Every item uploads; none fails.
  await s.until('every item uploaded', async () => {
    const cells = await s.findAll('[data-testid="album-item"]');
    const states = await Promise.all(cells.map((c) => c.attr('data-state')));
    assert.ok(!states.includes('failed'), `an item failed: ${states}`);
    return cells.length === 9 && states.every((st) => st === 'ready');
  }, 60000);
  writeFileSync(join(SHOTS, 'album-sent.png'), await s.screenshot());
  await s.end();

  // The other side: nine items in order, the caption, the first one square.
  const msgs = JSON.parse(natter('quinn', 'messages', '--with', 'pia', '--json'));
  const got = msgs.find((m) => m.media.length > 0);
  assert.ok(got, 'quinn received an album');
  assert.equal(got.text, 'Porto, day one');
  assert.equal(got.media.length, 9);
  assert.equal(got.media[0].width, got.media[0].height, 'the crop made the first photo square');
  assert.deepEqual([got.media[1].width, got.media[1].height], [1600, 1200]);

  // …and sees it in the app, thumbnails loaded.
  const q = await app('quinn', { width: 1100, height: 800 });
  t.after(() => q.end());
  await (await q.waitFor('[data-testid="conversation-item"]')).click();
  await q.waitFor('[data-testid="album"][data-count="9"]');
  await q.until('thumbnails loaded', async () => {
    const loaded = await q.execute(
      `return [...document.querySelectorAll('[data-testid="album-item"] img')]
         .filter((i) => i.complete && i.naturalWidth > 0 && !i.src.startsWith('data:')).length`,
    );
    return loaded >= 9;
  }, 30000);
  writeFileSync(join(SHOTS, 'album-received.png'), await q.screenshot());
});
