// Voice notes in the real app: a note sent from the command line plays in the app (the audio
// element reports its duration); the app records from the microphone (ALSA's file plugin fed
// with speech in real time, see run.sh), previews and sends, and the other side receives it.
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
const SPEECH_WAV = env('NATTER_E2E_SPEECH_WAV');

function natter(profile, ...args) {
  return execFileSync(CLI, ['--server', SERVER, '--profile', join(WORK, profile), ...args], {
    encoding: 'utf8',
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('a voice note plays in the app; the app records, previews and sends one', async (t) => {
  // Two accounts made on the command line; the app opens on vera's profile, signed in.
  natter('voice-app', 'signup', '--username', 'vera', '--password', 'vera-password-1', '--birthdate', '1991-03-03');
  natter('walt', 'signup', '--username', 'walt', '--password', 'walt-password-1', '--birthdate', '1989-09-09');

  // A voice note never opens a conversation: they say hello in text first.
  natter('walt', 'send', '--to', 'vera', '--text', 'Hi Vera! Can I send you a voice note?');
  natter('voice-app', 'send', '--to', 'walt', '--text', 'Sure, go ahead');

  // Walt sends a note made from a WAV, through the same rules as the app.
  const note = join(WORK, 'walt.ogg');
  execFileSync(CLI, ['voice', 'encode', SPEECH_WAV, '--out', note]);
  const info = JSON.parse(execFileSync(CLI, ['voice', 'info', note, '--json'], { encoding: 'utf8' }));
  natter('walt', 'send', '--to', 'vera', '--voice', note);

  const s = await Session.start(env('NATTER_E2E_DRIVER'), {
    'tauri:options': {
      application: env('NATTER_E2E_APP'),
      args: ['--profile', join(WORK, 'voice-app'), '--server', SERVER],
    },
  });
  t.after(() => s.end());
  await s.setWindowRect({ width: 1100, height: 760 }).catch(() => {});

  await (await s.waitFor('[data-testid="conversation-item"]')).click();
  const bubble = await s.waitFor('[data-testid="voice-bubble"]');
  assert.equal(Number(await bubble.attr('data-duration-ms')), info.duration_ms);
  assert.ok(
    (await s.findAll('[data-testid="voice-bubble"] [data-testid="voice-unplayed"]')).length === 1,
    'a note not played yet has the unplayed dot',
  );

  // Play it: the web view decodes the Ogg Opus file and agrees on its length.
  await (await s.find('[data-testid="voice-bubble"] [data-testid="voice-play"]')).click();
  const audio = await s.until('the note to play', async () => {
    const a = await s.execute(
      `const a = document.querySelector('[data-testid="voice-audio"], [data-testid="voice-bubble"] audio');
       return a && { duration: a.duration, time: a.currentTime, paused: a.paused, error: a.error && a.error.code };`,
    );
    if (a && a.error) throw new Error(`media error ${a.error}`);
    return a && a.time > 0.2 && Number.isFinite(a.duration) ? a : null;
  });
  assert.ok(
    Math.abs(audio.duration * 1000 - info.duration_ms) < 100,
    `the audio element reports ${audio.duration} s for a ${info.duration_ms} ms note`,
  );
  await s.until('the unplayed dot to go', async () =>
    (await s.findAll('[data-testid="voice-unplayed"]')).length === 0,
  );
  // Walt sees it played.
  await s.until('walt to see his note played', async () => {
    const msgs = JSON.parse(natter('walt', 'messages', '--with', 'vera', '--json'));
    return msgs.some((m) => m.voice && m.voice.played);
  });
  // Speed toggle cycles.
  const speed = await s.find('[data-testid="voice-bubble"] [data-testid="voice-speed"]');
  const before = await speed.text();
  await speed.click();
  assert.notEqual(await speed.text(), before, 'the speed toggle changes');

  // Record ~3 s from the microphone (speech fed in real time through ALSA), then stop.
  await (await s.find('[data-testid="record"]')).click();
  await s.waitFor('[data-testid="recording"]');
  const timer = await s.find('[data-testid="record-timer"]');
  await s.until('the timer to count', async () => /0:0[2-9]/.test(await timer.text()), 15000);
  await (await s.find('[data-testid="record-stop"]')).click();
  await s.waitFor('[data-testid="voice-preview"]');
  await (await s.find('[data-testid="preview-play"]')).click();
  await sleep(300);
  await (await s.find('[data-testid="preview-send"]')).click();
  // The reminder before media goes out: who will hear it, that it can be saved.
  const reminder = await s.waitFor('[data-testid="media-reminder"]');
  assert.match(await reminder.text(), /walt will be able to hear it/);
  writeFileSync(join(SHOTS, 'voice-reminder.png'), await s.screenshot());
  await (await s.find('[data-testid="reminder-send"]')).click();

  // It shows as mine, and walt receives a note of the length recorded.
  await s.until('my voice bubble', async () =>
    (await s.execute(
      `return [...document.querySelectorAll('[data-testid="message"][data-mine="true"] [data-testid="voice-bubble"]')].length`,
    )) === 1,
  );
  const received = await s.until('walt to receive the recording', async () => {
    const msgs = JSON.parse(natter('walt', 'messages', '--with', 'vera', '--json'));
    return msgs.find((m) => m.voice && m.sender === 'vera');
  });
  assert.ok(
    received.voice.duration_ms >= 1500 && received.voice.duration_ms <= 15000,
    `the recorded note lasts ${received.voice.duration_ms} ms`,
  );
  assert.ok(received.voice.waveform.some((b) => b > 20), 'speech shows in the waveform');

  writeFileSync(join(SHOTS, 'voice-chat.png'), await s.screenshot());
  await s.setWindowRect({ width: 390, height: 844 }).catch(() => {});
  await sleep(300);
  writeFileSync(join(SHOTS, 'voice-chat-phone.png'), await s.screenshot());
});
