// The app's memory when idle: signed in, one chat of 30 messages open, 10 s after the last
// action. Prints the resident set (RSS) and the proportional set (PSS, shared pages split
// between the processes sharing them) of the app and of the WebKit processes it started.
import { readFileSync, readdirSync } from 'node:fs';
import { Session } from '../e2e/webdriver.mjs';

const env = (k) => process.env[k];
const s = await Session.start(env('NATTER_SIZE_DRIVER'), {
  'tauri:options': {
    application: env('NATTER_SIZE_APP'),
    args: ['--profile', env('NATTER_SIZE_PROFILE'), '--server', env('NATTER_SIZE_SERVER')],
  },
});
try {
  await s.setWindowRect({ width: 1000, height: 720 }).catch(() => {});
  await (await s.waitFor('[data-testid="switch-to-login"]')).click();
  await (await s.waitFor('[data-testid="username"]')).type('amy');
  await (await s.find('[data-testid="password"]')).type('amy-password-1');
  await (await s.find('[data-testid="login-submit"]')).click();
  await (await s.waitFor('[data-testid="conversation-item"]')).click();
  await s.until('30 messages on screen', async () => (await s.findAll('[data-testid="message"]')).length >= 30);
  await new Promise((r) => setTimeout(r, 10000));

  const kib = (pid, file, field) => {
    try {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  };
  const procs = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map((pid) => {
    let stat = '';
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return null;
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return { pid: Number(pid), comm, ppid };
  }).filter(Boolean);
  const app = procs.find((p) => p.comm === 'natter-app');
  if (!app) throw new Error('natter-app is not running');
  const family = [app, ...procs.filter((p) => p.ppid === app.pid)];
  let rss = 0;
  let pss = 0;
  for (const p of family) {
    const r = kib(p.pid, 'status', 'VmRSS');
    const q = kib(p.pid, 'smaps_rollup', 'Pss');
    rss += r;
    pss += q;
    console.log(`  ${p.comm.padEnd(22)} pid ${String(p.pid).padEnd(7)} RSS ${(r / 1024).toFixed(1)} MiB  PSS ${(q / 1024).toFixed(1)} MiB`);
  }
  console.log(`idle memory, app and its WebKit processes: RSS ${(rss / 1024).toFixed(1)} MiB, PSS ${(pss / 1024).toFixed(1)} MiB`);
} finally {
  await s.end();
}
