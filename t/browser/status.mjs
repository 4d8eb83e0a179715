// status.mjs: a headless chromium under the control of a test (t/lib/vrbrowser.py).
//
//   node t/browser/status.mjs USER_DATA_DIR [CHROMIUM]
//
// Reads one JSON command per line on stdin and answers each with one JSON
// line on stdout ({"ok": true, ...} or {"ok": false, "error": "..."}):
//
//   {"op": "open", "url": U, "width": W, "height": H, "scheme": "dark"}
//   {"op": "read"}            what the page shows (see readPage below), its
//                             errors, and every URL it requested so far
//   {"op": "screenshot", "path": P, "scheme": "light"|"dark"}
//   {"op": "eval", "js": E}   the value of the expression E in the page
//   {"op": "errors"}          the page's errors and the URLs it requested
//   {"op": "close"}           closes the browser and exits
//
// The browser is the system chromium (never a downloaded one), with a
// fresh profile in USER_DATA_DIR and no network of its own beyond the
// page.  Console errors and uncaught exceptions of the page are collected
// and returned by "read" as page_errors.
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const [userDataDir, executablePath = '/usr/bin/chromium'] = process.argv.slice(2);
if (!userDataDir) {
  process.stderr.write('usage: node status.mjs USER_DATA_DIR [CHROMIUM]\n');
  process.exit(2);
}

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];

let context = null;
let page = null;
const pageErrors = [];
const requested = new Set();      // every URL the page asked for

function answer(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function ensureBrowser(o) {
  if (context) return;
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: ARGS,
    viewport: { width: o.width || 1440, height: o.height || 900 },
    colorScheme: o.scheme || 'dark',
    reducedMotion: 'reduce',
    timeout: o.timeout_ms || 30000,
  });
}

/* Everything the test reads, from data-testid and data-value attributes. */
function readPage() {
  const q = (id, root) => (root || document).querySelector('[data-testid="' + id + '"]');
  const val = (e) => {
    if (!e) return null;
    const v = e.getAttribute('data-value');
    if (v === null || v === '') return null;
    const n = Number(v);
    return Number.isFinite(n) ? n : v;
  };
  const text = (e) => (e ? e.textContent.trim() : null);
  const rows = (id) => Array.from(document.querySelectorAll('[data-testid="' + id + '"]'));
  const methods = {};
  for (const r of rows('method-row')) {
    const pair = (f) => Array.from(q('method-' + f, r).querySelectorAll('[data-value]')).map(val);
    methods[r.getAttribute('data-method')] = {
      calls: val(q('method-calls', r)),
      rate: val(q('method-rate', r)),
      queue: val(q('method-queue', r)),
      in_flight: val(q('method-inflight', r)),
      dealers: pair('dealers'),
      errors: val(q('method-errors', r)),
      error_codes: Object.fromEntries(Array.from(r.querySelectorAll('[data-code]'))
        .map((c) => [c.getAttribute('data-code'), Number(c.getAttribute('data-value'))])),
      spark_calls: Number(r.querySelector('.spark-wrap')?.getAttribute('data-calls') || 'NaN'),
      spark_svg: !!r.querySelector('.spark-wrap svg path'),
    };
  }
  const dealers = {};
  for (const r of rows('dealer-row')) {
    dealers[r.getAttribute('data-dealer')] = {
      state: r.getAttribute('data-state'),
      served: val(q('dealer-served', r)),
      load: val(q('dealer-load', r)),
      heartbeat: text(q('dealer-heartbeat', r)),
    };
  }
  return {
    conn: text(q('conn-state')),
    conn_age: text(q('conn-age')),
    body_conn: document.body.getAttribute('data-conn'),
    title: document.title,
    banner: q('banner').hidden ? null : text(q('banner')),
    version: text(q('gw-version')),
    mode: text(q('gw-mode')),
    pid: val(q('gw-pid')),
    config: text(q('gw-config')),
    http_listen: text(q('gw-http')),
    totals: {
      requests: val(q('total-requests')),
      responses: val(q('total-responses')),
      errors: val(q('total-errors')),
      in_flight: val(q('total-inflight')),
      queued: val(q('total-queued')),
      dealers_active: val(q('dealers-active')),
      dealers_inactive: val(q('dealers-inactive')),
      http_connections: val(q('http-connections')),
      http_streams: val(q('http-streams')),
    },
    error_codes: Object.fromEntries(Array.from(q('errors-breakdown').querySelectorAll('[data-code]'))
      .map((c) => [c.getAttribute('data-code'), Number(c.getAttribute('data-value'))])),
    methods,
    dealers,
    recent_errors: rows('error-row').map((r) => ({
      method: text(q('error-method', r)), code: text(q('error-code', r)), message: text(q('error-message', r)),
    })),
    workers_shown: !q('workers-panel').hidden,
    idle_toggle: q('methods-idle-toggle').hidden ? null : text(q('methods-idle-toggle')),
    snapshots: window.voidrailStatus ? window.voidrailStatus.state.snapshots : null,
  };
}

function hook(p) {
  p.on('request', (r) => requested.add(r.url()));
  p.on('pageerror', (e) => pageErrors.push('pageerror: ' + e.message));
  p.on('console', (m) => {
    // A failed EventSource or fetch while the gateway is away (or refuses
    // the key) is logged by chromium itself as a console error: expected.
    if (m.type() === 'error' && !/net::ERR_|Failed to load resource/.test(m.text())) {
      pageErrors.push('console: ' + m.text());
    }
  });
}

const ops = {
  async open(o) {
    await ensureBrowser(o);
    if (!page) {
      page = context.pages()[0] || await context.newPage();
      hook(page);
    }
    const resp = await page.goto(o.url, { waitUntil: 'load', timeout: o.timeout_ms || 30000 });
    return { status: resp ? resp.status() : null, content_type: resp ? resp.headers()['content-type'] : null };
  },
  async read() {
    const shown = await page.evaluate(readPage);
    return { page: shown, page_errors: pageErrors.slice(), requests: Array.from(requested) };
  },
  async errors() {
    return { page_errors: pageErrors.slice(), requests: Array.from(requested) };
  },
  async eval(o) {
    return { value: await page.evaluate(o.js) };
  },
  async screenshot(o) {
    if (o.scheme) await page.emulateMedia({ colorScheme: o.scheme });
    await page.mouse.move(0, 0);
    await page.screenshot({ path: o.path, fullPage: true, animations: 'disabled' });
    return { path: o.path };
  },
  async close() {
    if (context) await context.close();
    context = null;
    return {};
  },
};

const rl = createInterface({ input: process.stdin, terminal: false });
for await (const line of rl) {
  if (!line.trim()) continue;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (e) {
    answer({ ok: false, error: 'bad command: ' + e.message });
    continue;
  }
  try {
    const fn = ops[cmd.op];
    if (!fn) throw new Error('unknown op ' + cmd.op);
    answer({ ok: true, ...(await fn(cmd)) });
  } catch (e) {
    answer({ ok: false, error: String(e && e.stack ? e.stack : e) });
  }
  if (cmd.op === 'close') break;
}
if (context) await context.close();
process.exit(0);
