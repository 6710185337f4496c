// The real app at phone size: the window is set to 390×844 (an iPhone 12–15's viewport, in CSS
// px) and the screens a phone user goes through are checked the way a finger and an eye would:
//
//  1. nothing overflows sideways: the page does not scroll horizontally, no element reaches
//     past the edge of the screen, no scroller other than a deliberate carousel scrolls
//     sideways, and no control is cut off by a box that hides its overflow;
//  2. every visible control (button, link, input, select, textarea, role=button/slider/switch,
//     a checkbox with the label wrapped around it) can be hit over at least 44×44 CSS px:
//     Apple's Human Interface Guidelines minimum (Material asks 48 dp; 44 is the smaller of the
//     two widely used minimums, and the one this app designs to). The box measured is the one a
//     tap really lands in: hit testing (elementFromPoint) from the control's centre outwards,
//     so a wrapping label or a padded parent counts, and a neighbour covering it does not;
//  3. text fields use a font of at least 16 px, so that iOS does not zoom in on focus.
//
// Screenshots go to NATTER_E2E_SHOTS as phone-*.png, and the measurements to
// phone-audit.json beside them.
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
const CLI = env('NATTER_E2E_CLI');
const PICK = env('NATTER_TEST_PICK');

const PHONE = { width: 390, height: 844 };
/** Apple HIG's minimum hit target, in CSS px (Material's is 48 dp). */
const MIN_TARGET = 44;
/** The smallest font size at which iOS does not zoom into a focused field. */
const MIN_INPUT_FONT = 16;

function natter(profile, ...args) {
  return execFileSync(CLI, ['--server', SERVER, '--profile', join(WORK, profile), ...args], {
    encoding: 'utf8',
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Runs in the page: measures the screen as it is now. Returns plain data; the test decides.
const AUDIT = `
const [minTarget, minFont] = arguments;
const W = window.innerWidth, H = window.innerHeight;
const TOL = 0.5;
const INTERACTIVE = 'button, a[href], input:not([type="hidden"]), select, textarea, [role="button"], [role="slider"], ' +
  '[role="switch"], [role="checkbox"], [role="link"], [contenteditable=""], [contenteditable="true"]';
const TEXT_TYPES = new Set(['', 'text', 'password', 'email', 'url', 'search', 'tel', 'number', 'date',
  'datetime-local', 'month', 'time', 'week']);

function describe(el) {
  const bits = [el.tagName.toLowerCase()];
  const id = el.getAttribute('data-testid');
  if (id) bits.push('[data-testid="' + id + '"]');
  else if (el.id) bits.push('#' + el.id);
  const cls = typeof el.className === 'string' ? el.className.split(/\\s+/).filter((c) => c && !c.startsWith('svelte-')) : [];
  if (cls.length) bits.push('.' + cls.join('.'));
  const label = el.getAttribute('aria-label') || (el.textContent || '').trim().replace(/\\s+/g, ' ');
  if (label) bits.push(JSON.stringify(label.slice(0, 40)));
  return bits.join(' ');
}

// What of an element can be seen: its box cut by every ancestor that clips it (following the
// containing-block chain, so an absolutely positioned child escapes a static parent's clip).
// Says too whether a box that hides its overflow for good (not a scroller) cut it.
function shown(el) {
  const r = el.getBoundingClientRect();
  let box = { l: r.left, t: r.top, r: r.right, b: r.bottom };
  let hiddenCut = false, scrollCut = false;
  let pos = getComputedStyle(el).position;
  for (let a = el.parentElement; a && a !== document.documentElement && pos !== 'fixed'; a = a.parentElement) {
    const cs = getComputedStyle(a);
    if (pos === 'absolute' && cs.position === 'static' && cs.transform === 'none') continue;
    pos = cs.position;
    if (cs.overflowX === 'visible' && cs.overflowY === 'visible') continue;
    const ar = a.getBoundingClientRect();
    const clip = {
      l: ar.left + a.clientLeft,
      t: ar.top + a.clientTop,
      r: ar.left + a.clientLeft + a.clientWidth,
      b: ar.top + a.clientTop + a.clientHeight,
    };
    const next = {
      l: Math.max(box.l, clip.l), t: Math.max(box.t, clip.t),
      r: Math.min(box.r, clip.r), b: Math.min(box.b, clip.b),
    };
    if (next.l > box.l + TOL || next.t > box.t + TOL || next.r < box.r - TOL || next.b < box.b - TOL) {
      const scroller = /auto|scroll/.test(cs.overflowX + cs.overflowY);
      if (scroller) scrollCut = true;
      else hiddenCut = true;
    }
    box = next;
  }
  return { box, full: r, hiddenCut, scrollCut, empty: box.r - box.l <= 0 || box.b - box.t <= 0 };
}

function visible(el) {
  if (el.checkVisibility && !el.checkVisibility({ opacityProperty: false, visibilityProperty: true })) return false;
  const cs = getComputedStyle(el);
  if (cs.visibility === 'hidden' || cs.display === 'none') return false;
  if (cs.clip && cs.clip !== 'auto' && /rect\\(0(px)?,? 0(px)?,? 0(px)?,? 0(px)?\\)/.test(cs.clip)) return false;
  if (el.closest('[inert]')) return false;
  return !shown(el).empty;
}

// A modal <dialog> makes everything outside it inert.
const modal = [...document.querySelectorAll('dialog')].find((d) => {
  try {
    return d.open && d.matches(':modal');
  } catch {
    return d.open; // no :modal: every open <dialog> here is shown modal
  }
});
// So does a full-screen overlay marked aria-modal (the editor, the viewer): what is under it
// cannot be seen or hit. (The media reminder is aria-modal too, but sits inside the composer:
// only an overlay fixed over the whole screen counts.)
const overlay = [...document.querySelectorAll('[aria-modal="true"]')].find((o) => {
  const r = o.getBoundingClientRect();
  return getComputedStyle(o).position === 'fixed' && r.width >= W - 1 && r.height >= H - 1;
});
const scope = modal || overlay;
const inScope = (el) => !scope || scope.contains(el);

const result = {
  innerWidth: W,
  innerHeight: H,
  dpr: window.devicePixelRatio,
  scrollWidth: document.scrollingElement.scrollWidth,
  offscreen: [],
  sideScrollers: [],
  cutOff: [],
  targets: [],
  small: [],
  fonts: [],
  skipped: [],
};

// 1. Overflow: every visible element stays within the screen's width.
for (const el of document.body.querySelectorAll('*')) {
  if (!inScope(el) || !visible(el)) continue;
  const s = shown(el);
  if (s.box.l < -TOL || s.box.r > W + TOL) {
    result.offscreen.push({ el: describe(el), left: Math.round(s.box.l), right: Math.round(s.box.r) });
  }
  const cs = getComputedStyle(el);
  if (/auto|scroll/.test(cs.overflowX) && el.scrollWidth > el.clientWidth + 1 && !/x|both|inline/.test(cs.scrollSnapType)) {
    result.sideScrollers.push({ el: describe(el), scrollWidth: el.scrollWidth, clientWidth: el.clientWidth });
  }
}

// 2 and 3: the controls.
for (const el of document.body.querySelectorAll(INTERACTIVE)) {
  if (!inScope(el) || !visible(el)) continue;
  // A control inside another (a span with role=button in a button) is hit as the outer one.
  if (el.parentElement && el.parentElement.closest(INTERACTIVE) && !el.matches('input, select, textarea')) continue;
  const s = shown(el);
  if (s.hiddenCut) {
    result.cutOff.push({ el: describe(el), full: [s.full.left, s.full.top, s.full.right, s.full.bottom].map(Math.round),
      shown: [s.box.l, s.box.t, s.box.r, s.box.b].map(Math.round) });
  }
  if (s.scrollCut) {
    // Partly scrolled out of view: the user scrolls it in before tapping it.
    result.skipped.push(describe(el));
    continue;
  }
  const isText = el.matches('textarea, select, [contenteditable=""], [contenteditable="true"]') ||
    (el.tagName === 'INPUT' && TEXT_TYPES.has((el.getAttribute('type') || '').toLowerCase()));
  if (isText) {
    const px = parseFloat(getComputedStyle(el).fontSize);
    if (!(px >= minFont)) result.fonts.push({ el: describe(el), fontSize: px });
  }
  // What counts as hitting it: the control, what is inside it, and for a checkbox or radio the
  // label wrapped around it.
  const targets = [el];
  if (el.matches('input[type="checkbox"], input[type="radio"]')) {
    const wrap = el.closest('label');
    if (wrap) targets.push(wrap);
  }
  const hits = (x, y) => {
    if (x < 0 || y < 0 || x >= W || y >= H) return false;
    const h = document.elementFromPoint(x, y);
    return !!h && targets.some((t) => t.contains(h));
  };
  // Hit testing works on whole CSS pixels: count the pixels along the two lines through the
  // centre, outwards from it, for as long as they still hit the control.
  const cx = Math.floor((s.box.l + s.box.r) / 2), cy = Math.floor((s.box.t + s.box.b) / 2);
  let w = 0, h = 0;
  if (hits(cx, cy)) {
    const reach = (dx, dy) => {
      let d = 0;
      while (d < 400 && hits(cx + dx * (d + 1), cy + dy * (d + 1))) d++;
      return d;
    };
    w = reach(-1, 0) + 1 + reach(1, 0);
    h = reach(0, -1) + 1 + reach(0, 1);
  }
  const t = { el: describe(el), w, h,
    box: [Math.round(s.full.width * 10) / 10, Math.round(s.full.height * 10) / 10] };
  result.targets.push(t);
  if (w < minTarget || h < minTarget) result.small.push(t);
}
return result;
`;

test('at phone size, every screen fits the width, has touch-sized targets and zoom-proof fields', async (t) => {
  natter('phone-ben', 'signup', '--username', 'ben', '--password', 'ben-password-1', '--birthdate', '1987-07-07');

  const s = await Session.start(env('NATTER_E2E_DRIVER'), {
    'tauri:options': {
      application: env('NATTER_E2E_APP'),
      args: ['--profile', join(WORK, 'phone-app'), '--server', SERVER],
    },
  });
  t.after(() => s.end());

  // The window at phone size. The rect is the window's; what matters is the page's viewport,
  // so whatever the window's frame takes is added back once, then the viewport must be 390 wide.
  // The driver may report an error and resize all the same: the viewport is what is checked.
  const resize = (rect) =>
    s.setWindowRect(rect).catch((e) => t.diagnostic(`setWindowRect ${JSON.stringify(rect)}: ${e.message}`));
  const viewport = () => s.execute('return { w: window.innerWidth, h: window.innerHeight }');
  await resize(PHONE);
  let view = await s.until('the window to resize', async () => {
    const v = await viewport();
    return v.w < 700 && v;
  }, 5000).catch(viewport);
  if (view.w !== PHONE.width || view.h !== PHONE.height) {
    await resize({ width: 2 * PHONE.width - view.w, height: 2 * PHONE.height - view.h });
    await sleep(500);
    view = await viewport();
  }
  assert.ok(Math.abs(view.w - PHONE.width) <= 1, `the viewport is ${view.w} CSS px wide, not ${PHONE.width}`);
  assert.ok(Math.abs(view.h - PHONE.height) <= 10, `the viewport is ${view.h} CSS px high, not ~${PHONE.height}`);
  t.diagnostic(`viewport ${view.w}×${view.h} CSS px`);

  const report = {};
  const problems = [];
  /** Measures the screen as it is, saves a screenshot, and notes what a phone user would hit. */
  async function screen(name) {
    await sleep(250); // transitions (the switch knob, the mic's scale) settle
    const a = await s.execute(AUDIT, [MIN_TARGET, MIN_INPUT_FONT]);
    writeFileSync(join(SHOTS, `phone-${name}.png`), await s.screenshot());
    report[name] = a;
    writeFileSync(join(SHOTS, 'phone-audit.json'), JSON.stringify(report, null, 2));
    const smallest = [...a.targets].sort((x, y) => Math.min(x.w, x.h) - Math.min(y.w, y.h))[0];
    t.diagnostic(
      `${name}: ${a.targets.length} targets, smallest ${smallest ? `${smallest.w}×${smallest.h} ${smallest.el}` : '-'}; ` +
        `${a.small.length} under ${MIN_TARGET} px, ${a.fonts.length} small fields, ${a.offscreen.length} off screen`,
    );
    assert.ok(Math.abs(a.innerWidth - PHONE.width) <= 1, `${name}: the viewport changed to ${a.innerWidth} px`);
    assert.ok(a.targets.length > 0, `${name}: no controls found`);
    const say = (what, list) => list.length && problems.push(`${name}: ${what}:\n    ${list.map((x) => JSON.stringify(x)).join('\n    ')}`);
    if (a.scrollWidth > a.innerWidth) problems.push(`${name}: the page scrolls sideways (${a.scrollWidth} > ${a.innerWidth} px)`);
    say('past the edge of the screen', a.offscreen);
    say('scrolls sideways', a.sideScrollers);
    say('cut off by a box hiding its overflow', a.cutOff);
    say(`hit box under ${MIN_TARGET}×${MIN_TARGET} px`, a.small);
    say(`font under ${MIN_INPUT_FONT} px (iOS zooms in on focus)`, a.fonts);
  }

  // A packaged app's first start asks for the server first (this one is given --server, so it
  // may not); then sign up, and the log-in form behind "Log in".
  await s.waitFor('[data-testid="username"], [data-testid="choose-server"]');
  if ((await s.findAll('[data-testid="choose-server"]')).length) {
    await screen('server');
    await (await s.find('[data-testid="choose-server-submit"]')).click();
  }
  await s.waitFor('[data-testid="username"]');
  await screen('signup');
  await (await s.find('[data-testid="switch-to-login"]')).click();
  await s.waitFor('[data-testid="login-submit"]');
  await screen('login');
  await (await s.find('[data-testid="switch-to-signup"]')).click();
  await (await s.waitFor('[data-testid="username"]')).type('pam');
  await (await s.find('[data-testid="password"]')).type('pam-password-1');
  await s.execute(
    `const el = document.querySelector('[data-testid="birthdate"]');
     el.value = '1990-06-06';
     el.dispatchEvent(new Event('input', { bubbles: true }));
     el.dispatchEvent(new Event('change', { bubbles: true }));`,
  );
  await (await s.find('[data-testid="signup-submit"]')).click();

  // No chats yet; then the new-chat dialog.
  await s.waitFor('[data-testid="new-chat"]');
  await s.until('the connection banner to go away', async () =>
    (await s.execute(`return document.querySelectorAll('.banner').length`)) === 0,
  );
  await screen('chats-empty');
  await (await s.find('[data-testid="new-chat"]')).click();
  await s.waitFor('dialog[open] [data-testid="new-chat-username"]');
  // WebKitWebDriver may refuse to type into a field of a just-opened <dialog> ("not
  // focusable"): then the text goes in the way typing delivers it, as an input event.
  await (await s.find('[data-testid="new-chat-username"]')).type('ben').catch(() =>
    s.execute(
      `const el = document.querySelector('[data-testid="new-chat-username"]');
       el.value = 'ben';
       el.dispatchEvent(new Event('input', { bubbles: true }));`,
    ),
  );
  await screen('new-chat');
  await (await s.find('[data-testid="new-chat-submit"]')).click();

  // The chat: pam says hello, ben answers from the command line (a long message and an
  // unbroken link among them, which must wrap rather than widen the screen).
  const composer = await s.waitFor('[data-testid="composer"]');
  await composer.type('Hi Ben! Trying Natter on my phone.');
  await composer.type(KEY_ENTER);
  natter('phone-ben', 'send', '--to', 'pam', '--text', 'Hey Pam, good to see you here');
  natter('phone-ben', 'send', '--to', 'pam', '--text',
    'This one is a longer message, so that it has to wrap over several lines in a bubble on a narrow phone screen, the way real messages do.');
  natter('phone-ben', 'send', '--to', 'pam', '--text',
    'https://example.com/a/very/long/link/without/any/spaces/that/would/otherwise/push/the/bubble/wider/than/the/screen?and=more&query=strings');
  await s.until("ben's three messages", async () =>
    (await s.findAll('[data-testid="message"][data-mine="false"]')).length === 3,
  );
  await s.until('the send button to give way to the microphone', async () =>
    (await s.findAll('[data-testid="record"]')).length === 1,
  );
  await s.waitFor('[data-testid="attach"]');
  await screen('chat');

  // Typing: the send button replaces the microphone; the reply is sent by tapping it.
  await (await s.find('[data-testid="composer"]')).type('Sounds good, see you on Saturday');
  await s.waitFor('[data-testid="send"]');
  await screen('chat-typing');
  await (await s.find('[data-testid="send"]')).click();
  await s.until('my reply', async () => (await s.findAll('[data-testid="message"][data-mine="true"]')).length === 2);

  // Reporting ben: the dialog with his messages to choose from.
  await (await s.find('[data-testid="report-open"]')).click();
  await s.waitFor('[data-testid="report-reason"]');
  await screen('report');
  await s.execute(`document.querySelector('[data-testid="report-dialog"]').close()`);
  await s.until('the report dialog to close', async () => (await s.findAll('[data-testid="report-dialog"]')).length === 0);

  // Back to the list: one chat in it.
  await (await s.find('[data-testid="back"]')).click();
  await s.waitFor('[data-testid="conversation-item"]');
  await screen('chats');

  // Settings.
  await (await s.find('[data-testid="settings-open"]')).click();
  await s.waitFor('[data-testid="settings-close"]');
  await s.until('the blocked list to load', async () =>
    !(await (await s.find('[data-testid="settings"]')).text()).includes('Loading'),
  );
  await screen('settings');
  await (await s.find('[data-testid="settings-close"]')).click();
  await s.until('settings to close', async () => (await s.findAll('[data-testid="settings"]')).length === 0);

  // A voice note: the recording bar, the preview, the reminder before it goes out.
  await (await s.find('[data-testid="conversation-item"]')).click();
  await (await s.waitFor('[data-testid="record"]')).click();
  await s.waitFor('[data-testid="recording"]');
  const timer = await s.find('[data-testid="record-timer"]');
  await s.until('the timer to count', async () => /0:0[1-9]/.test(await timer.text()), 15000);
  await screen('recording');
  await (await s.find('[data-testid="record-stop"]')).click();
  await s.waitFor('[data-testid="voice-preview"]');
  await screen('voice-preview');
  await (await s.find('[data-testid="preview-send"]')).click();
  await s.waitFor('[data-testid="media-reminder"]');
  await screen('voice-reminder');
  await (await s.find('[data-testid="reminder-cancel"]')).click();
  await (await s.waitFor('[data-testid="preview-discard"]')).click();
  await s.waitFor('[data-testid="composer"]');

  // An album: three photos in the tray with a caption, the reminder, the editor.
  const files = [];
  for (let i = 1; i <= 3; i++) {
    const f = join(WORK, `phone-${i}.jpg`);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i',
      `testsrc2=size=1200x900:rate=1,hue=h=${i * 60}`, '-frames:v', '1', '-q:v', '4', f]);
    files.push(f);
  }
  writeFileSync(PICK, files.join('\n'));
  await (await s.find('[data-testid="attach"]')).click();
  await s.until('three photos prepared in the tray', async () =>
    (await s.findAll('[data-testid="tray-item"][data-state="ready"]')).length === 3,
  60000);
  await (await s.find('[data-testid="caption"]')).type('Saturday at the lake');
  await screen('album');
  await (await s.find('[data-testid="tray-item"] [data-testid="edit-item"]')).click();
  await s.waitFor('[data-testid="media-editor"]');
  await screen('editor');
  await (await s.find('[data-testid="editor-cancel"]')).click();
  await (await s.waitFor('[data-testid="send-album"]')).click();
  await s.waitFor('[data-testid="media-reminder"]');
  await screen('album-reminder');
  await (await s.find('[data-testid="reminder-send"]')).click();
  await s.until('the album sent', async () => {
    const cells = await s.findAll('[data-testid="album"][data-count="3"] [data-testid="album-item"]');
    const states = await Promise.all(cells.map((c) => c.attr('data-state')));
    return cells.length === 3 && states.every((st) => st === 'ready');
  }, 60000);
  await screen('album-sent');

  // The viewer, over the whole screen.
  await (await s.find('[data-testid="album-open"]')).click();
  await s.waitFor('[data-testid="viewer-close"]');
  await screen('viewer');
  await (await s.find('[data-testid="viewer-close"]')).click();

  assert.equal(problems.length, 0, `At ${PHONE.width}×${PHONE.height}:\n${problems.join('\n')}`);
});
