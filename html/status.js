/* VoidRail status page: draws each snapshot of /status/events (Server-Sent
 * Events, "snapshot" events carrying the /status.json document).
 *
 * Plain ES2020, no framework, no build.  Nothing from the snapshot is ever
 * parsed as HTML: text goes into textContent, SVG is built element by
 * element.  Rows are keyed (method name, dealer id...) and updated in
 * place, so that hovering and selecting text survive the once-a-second
 * redraw.  Every number that a test may read carries its raw value in
 * data-value.
 */
'use strict';

(() => {
  // ---- small helpers -----------------------------------------------------

  const SVGNS = 'http://www.w3.org/2000/svg';
  const HISTORY_S = 300;

  const byId = (id, root) => (root || document).querySelector('[data-testid="' + id + '"]');
  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const arr = (v) => (Array.isArray(v) ? v : []);
  const obj = (v) => (v && typeof v === 'object' && !Array.isArray(v) ? v : {});
  const str = (v) => (v === null || v === undefined ? '' : String(v));

  const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

  function fmtInt(v) {
    const n = num(v);
    return n === null ? '\u2013' : intFmt.format(n);
  }

  function fmtRate(v) {
    const n = num(v);
    if (n === null) return '\u2013';
    if (n === 0) return '0';
    if (n < 0.1) return n.toFixed(2);
    if (n < 100) return n.toFixed(1);
    return intFmt.format(n);
  }

  function fmtMs(v) {
    const n = num(v);
    if (n === null) return '\u2013';
    if (n === 0) return '0';
    if (n < 1) return n.toFixed(2) + ' ms';
    if (n < 10) return n.toFixed(1) + ' ms';
    if (n < 1000) return Math.round(n) + ' ms';
    if (n < 60000) return (n / 1000).toFixed(n < 10000 ? 2 : 1) + ' s';
    return (n / 60000).toFixed(1) + ' min';
  }

  /* A latency percentile, estimated by the gateway from histogram
     buckets: 0 means no samples in the window, and within the first
     bucket (0..1 ms) the estimate says no more than "under 1 ms". */
  function fmtPct(v) {
    const n = num(v);
    if (!n) return '\u2013';
    return n < 1 ? '<1 ms' : fmtMs(n);
  }

  /* An age or uptime: "0.8s", "42s", "4m 12s", "2h 05m", "3d 4h". */
  function fmtDur(v, precise) {
    let s = num(v);
    if (s === null) return '\u2013';
    if (s < 0) s = 0;
    if (s < 10 && precise) return s.toFixed(1) + 's';
    if (s < 60) return Math.floor(s) + 's';
    const m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + String(Math.floor(s % 60)).padStart(2, '0') + 's';
    const h = Math.floor(m / 60);
    if (h < 24) return h + 'h ' + String(m % 60).padStart(2, '0') + 'm';
    return Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
  }

  function two(n) { return String(n).padStart(2, '0'); }

  /* Epoch seconds as local wall-clock time; the date too unless today. */
  function fmtClock(v) {
    const n = num(v);
    if (n === null) return '\u2013';
    const d = new Date(n * 1000);
    const t = two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds());
    const today = new Date();
    if (d.toDateString() === today.toDateString()) return t;
    return d.getFullYear() + '-' + two(d.getMonth() + 1) + '-' + two(d.getDate()) + ' ' + t;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function svg(tag, attrs) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    return e;
  }

  /* A short highlight on an element whose value changed. */
  function bump(e) {
    e.classList.remove('bump');
    void e.offsetWidth;
    e.classList.add('bump');
  }

  /* Sets text (and data-value) only when they change; bumps numbers that
     changed after the first drawing (unless quiet: values that change all
     the time, such as ages). */
  function put(e, text, value, quiet) {
    if (!e) return;
    const t = str(text);
    if (e.textContent !== t) e.textContent = t;
    if (value !== undefined) {
      const v = value === null ? '' : String(value);
      const old = e.getAttribute('data-value');
      if (old !== v) {
        e.setAttribute('data-value', v);
        if (!quiet && old !== null && old !== '' && state.drawn) bump(e);
      }
    }
  }

  function putNum(e, v) {
    put(e, fmtInt(v), num(v));
    if (e) e.classList.toggle('zero', num(v) === 0);
  }

  function setTitle(e, t) {
    if (!e) return;
    if (t) { if (e.title !== t) e.title = t; } else if (e.hasAttribute('title')) e.removeAttribute('title');
  }

  function setClass(e, cls, on) { if (e) e.classList.toggle(cls, !!on); }

  function sumValues(o) {
    let s = 0;
    for (const k in obj(o)) { const n = num(o[k]); if (n) s += n; }
    return s;
  }

  /* Non-zero counts of an errors object, largest first. */
  function errorList(o) {
    return Object.entries(obj(o))
      .filter(([, n]) => num(n) > 0)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  }

  /* Keeps tbody's rows in the order of items, creating, updating in place
     and removing rows by key. */
  function syncRows(tbody, items, keyOf, make, update) {
    const old = new Map();
    for (const tr of Array.from(tbody.children)) old.set(tr.key_, tr);
    const keep = new Set();
    let prev = null;
    for (const item of items) {
      const key = keyOf(item);
      if (keep.has(key)) continue;
      keep.add(key);
      let tr = old.get(key);
      if (!tr) {
        tr = make(item);
        tr.key_ = key;
      }
      update(tr, item);
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (tr !== want) tbody.insertBefore(tr, want);
      prev = tr;
    }
    for (const [key, tr] of old) if (!keep.has(key)) tr.remove();
  }

  /* A row of cells named by the keys of spec: {field: "td class"}. */
  function makeRow(testid, spec) {
    const tr = el('tr');
    tr.setAttribute('data-testid', testid);
    tr.cells_ = {};
    for (const [f, cls] of Object.entries(spec)) {
      const td = el('td', cls);
      td.setAttribute('data-testid', testid.replace(/-row$/, '') + '-' + f);
      tr.appendChild(td);
      tr.cells_[f] = td;
    }
    return tr;
  }

  /* "a / b" in one cell, each number with its own data-value. */
  function pair(td, a, b, fmt) {
    if (!td.firstChild) {
      td.classList.add('pair');
      td.append(el('span', 'a'), el('span', 'slash', '/'), el('span', 'b'));
    }
    const f = fmt || fmtInt;
    const [ea, , eb] = td.children;
    put(ea, f(a), num(a));
    put(eb, f(b), num(b));
    ea.classList.toggle('zero', num(a) === 0);
    eb.classList.toggle('zero', num(b) === 0);
  }

  /* Chips for an errors list ([code, count]...); with `most`, no more
     than that many and a last one for the rest. */
  function chips(box, list, bad, most) {
    const sig = JSON.stringify(list);
    if (box.dataset.sig === sig) return;
    box.dataset.sig = sig;
    box.textContent = '';
    const cut = most && list.length > most + 1 ? most : list.length;
    for (const [code, n] of list.slice(0, cut)) {
      const c = el('span', 'chip' + (bad ? ' bad' : ''));
      c.setAttribute('data-code', code);
      c.setAttribute('data-value', String(n));
      c.append(el('span', 'code', code), el('b', null, fmtInt(n)));
      box.appendChild(c);
    }
    if (cut < list.length) {
      const rest = list.slice(cut);
      const c = el('span', 'chip more', '+' + rest.length + ' more');
      c.title = rest.map(([code, n]) => code + ': ' + n).join('\n');
      box.appendChild(c);
    }
  }

  // ---- sparklines --------------------------------------------------------

  /* History points ({t, calls, errors, queue}) spread over HISTORY_S
     one-second slots ending at `now`; seconds without a point are 0. */
  function slots(history, now) {
    const calls = new Float64Array(HISTORY_S);
    const errors = new Float64Array(HISTORY_S);
    const queue = new Float64Array(HISTORY_S);
    const start = Math.floor(now) - HISTORY_S + 1;
    for (const p of arr(history)) {
      const t = num(p && p.t);
      if (t === null) continue;
      const i = Math.floor(t) - start;
      if (i < 0 || i >= HISTORY_S) continue;
      calls[i] += num(p.calls) || 0;
      errors[i] += num(p.errors) || 0;
      queue[i] = Math.max(queue[i], num(p.queue) || 0);
    }
    return { calls, errors, queue, start };
  }

  function addSlots(a, b) {
    for (let i = 0; i < HISTORY_S; i++) {
      a.calls[i] += b.calls[i];
      a.errors[i] += b.errors[i];
      a.queue[i] += b.queue[i];
    }
    return a;
  }

  function maxOf(a) { let m = 0; for (const v of a) if (v > m) m = v; return m; }
  function sumOf(a) { let s = 0; for (const v of a) s += v; return s; }

  /* Seconds per bar: the smallest that leaves each bar >= 3 px wide. */
  const BIN_SIZES = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30];
  function binFor(px) {
    for (const b of BIN_SIZES) if ((HISTORY_S / b) * 3 <= px) return b;
    return 30;
  }

  /* The one-second slots summed into bins of `bin` seconds: calls and
     errors per second (averaged over the bin), the longest queue. */
  function binned(s, bin) {
    const n = HISTORY_S / bin;
    const calls = new Float64Array(n), errors = new Float64Array(n), queue = new Float64Array(n);
    for (let i = 0; i < HISTORY_S; i++) {
      const k = Math.floor(i / bin);
      calls[k] += s.calls[i] / bin;
      errors[k] += s.errors[i];
      if (s.queue[i] > queue[k]) queue[k] = s.queue[i];
    }
    return { calls, errors, queue, n, bin, start: s.start };
  }

  /* Draws (or redraws) the sparkline in wrap: calls per second as bars,
     errors as red bars in front, the queue length as a step line on a
     scale of its own (at least 0..4, so that a queue of one does not fill
     the chart). */
  function drawSpark(wrap, s) {
    const H = 100;
    const width = wrap.clientWidth || 220;
    const b = binned(s, binFor(width));
    const W = b.n;
    let g = wrap.spark_;
    if (!g) {
      const root = svg('svg', { class: 'spark', preserveAspectRatio: 'none', 'aria-hidden': 'true' });
      g = {
        root,
        calls: svg('path', { class: 'calls' }),
        errs: svg('path', { class: 'errs' }),
        queue: svg('path', { class: 'queue' }),
        base: svg('line', { class: 'base', x1: 0, y1: H, y2: H }),
        cursor: svg('rect', { class: 'cursor', y: 0, height: H, width: 1, visibility: 'hidden' }),
      };
      g.grid = svg('path', { class: 'grid' });
      root.append(g.cursor, g.grid, g.base, g.calls, g.errs, g.queue);
      wrap.appendChild(root);
      wrap.spark_ = g;
      hookTip(wrap);
    }
    if (g.w !== W) {
      g.root.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
      g.base.setAttribute('x2', W);
      let grid = '';
      if (wrap.classList.contains('activity-spark')) {
        for (let m = 1; m < HISTORY_S / 60; m++) grid += 'M' + (m * 60) / b.bin + ' 0V' + H;
      }
      g.grid.setAttribute('d', grid);
      g.w = W;
    }
    wrap.slots_ = s;
    wrap.bins_ = b;
    const top = 94;                 // a little air above the peak
    const gap = W > 150 ? 0.12 : 0.2;
    const bw = (1 - gap).toFixed(2);
    const cmax = Math.max(1, maxOf(b.calls));
    const qmax = Math.max(4, maxOf(b.queue));
    let dc = '', de = '', dq = '';
    for (let i = 0; i < W; i++) {
      const c = b.calls[i];
      if (c > 0) {
        const h = Math.max(3, (c / cmax) * top);
        dc += 'M' + i + ' ' + H + 'V' + (H - h).toFixed(1) + 'h' + bw + 'V' + H + 'Z';
      }
      const e = b.errors[i] / b.bin;
      if (e > 0) {
        const he = Math.max(6, (Math.min(e, cmax) / cmax) * top);
        de += 'M' + i + ' ' + H + 'V' + (H - he).toFixed(1) + 'h' + bw + 'V' + H + 'Z';
      }
    }
    // The queue as steps, drawn only where there is one.
    const qy = (q) => (H - 1 - (q / qmax) * (top - 4)).toFixed(1);
    for (let i = 0; i < W; i++) {
      const q = b.queue[i];
      if (q > 0) {
        dq += (i > 0 && b.queue[i - 1] > 0 ? 'V' : 'M' + i + ' ' + (H - 1) + 'V') + qy(q) + 'h1';
        if (i === W - 1 || !(b.queue[i + 1] > 0)) dq += 'V' + (H - 1);
      }
    }
    g.calls.setAttribute('d', dc);
    g.errs.setAttribute('d', de);
    g.queue.setAttribute('d', dq);
    wrap.setAttribute('data-peak', String(maxOf(s.calls)));
    wrap.setAttribute('data-calls', String(sumOf(s.calls)));
    wrap.setAttribute('data-errors', String(sumOf(s.errors)));
    if (wrap.tipAt_ !== undefined) showTip(wrap, wrap.tipAt_);
  }

  // One tooltip for every sparkline: the bar under the pointer.
  const tip = () => byId('tip');

  function showTip(wrap, clientX, clientY) {
    const b = wrap.bins_;
    const g = wrap.spark_;
    if (!b || !g) return;
    const r = g.root.getBoundingClientRect();
    const i = Math.min(b.n - 1, Math.max(0, Math.floor(((clientX - r.left) / r.width) * b.n)));
    wrap.tipAt_ = clientX;
    g.cursor.setAttribute('x', i);
    g.cursor.setAttribute('visibility', 'visible');
    const t = tip();
    t.textContent = '';
    const from = b.start + i * b.bin;
    const when = b.bin > 1 ? fmtClock(from) + '\u2013' + fmtClock(from + b.bin).slice(-5) : fmtClock(from);
    const calls = b.calls[i] * b.bin;
    t.append(el('span', 'k', when + '  '),
      document.createTextNode(fmtInt(calls) + (calls === 1 ? ' call' : ' calls')),
      el('span', 'k', ' \u00b7 '),
      document.createTextNode('queue ' + fmtInt(b.queue[i])));
    if (b.errors[i] > 0) t.append(el('span', 'k', ' \u00b7 '), el('b', 'err', fmtInt(b.errors[i]) + (b.errors[i] === 1 ? ' error' : ' errors')));
    const s = wrap.slots_;
    t.append(el('div', 'k', 'last 5 min: ' + fmtInt(sumOf(s.calls)) + ' calls, peak ' + fmtInt(maxOf(s.calls)) +
      '/s, ' + fmtInt(sumOf(s.errors)) + ' errors, longest queue ' + fmtInt(maxOf(s.queue))));
    t.hidden = false;
    if (clientY !== undefined) {
      const x = Math.min(clientX + 12, window.innerWidth - t.offsetWidth - 8);
      t.style.left = Math.max(4, x) + 'px';
      t.style.top = (clientY + 16) + 'px';
    }
  }

  function hookTip(wrap) {
    wrap.addEventListener('mousemove', (ev) => showTip(wrap, ev.clientX, ev.clientY));
    wrap.addEventListener('mouseleave', () => {
      tip().hidden = true;
      wrap.tipAt_ = undefined;
      if (wrap.spark_) wrap.spark_.cursor.setAttribute('visibility', 'hidden');
    });
  }

  // ---- drawing a snapshot --------------------------------------------------

  const state = {
    doc: null,
    drawn: false,
    lastAt: 0,              // performance.now() of the last snapshot
    intervals: [],          // recent gaps between snapshots (ms)
    conn: 'connecting',
    es: null,
    retry: null,
    backoff: 1000,
    snapshots: 0,
    showIdle: false,
  };
  try {
    state.showIdle = localStorage.getItem('voidrail.status.showIdle') === '1';
  } catch (err) {
    // no storage: the default
  }

  function snapshotNow(doc) {
    const g = obj(doc.gateway);
    const cands = [num(doc.at), num(doc.now), num(g.now)];
    for (const c of cands) if (c !== null) return c;
    const st = num(g.started_at), up = num(g.uptime_s);
    let now = st !== null && up !== null ? st + up : Date.now() / 1000;
    // Never behind the newest history point (uptime_s may be whole seconds).
    for (const m of arr(doc.methods)) {
      const h = arr(m && m.history);
      const t = h.length ? num(h[h.length - 1].t) : null;
      if (t !== null && t > now) now = t;
    }
    return now;
  }

  function drawHeader(doc) {
    const g = obj(doc.gateway);
    put(byId('gw-version'), g.version ? 'v' + g.version : '\u2013');
    put(byId('gw-uptime'), fmtDur(num(g.uptime_s)), num(g.uptime_s), true);
    setTitle(byId('gw-uptime'), num(g.started_at) !== null ? 'started ' + fmtClock(g.started_at) : '');
    put(byId('gw-mode'), str(g.mode) || '\u2013');
    put(byId('gw-pid'), num(g.pid) !== null ? String(g.pid) : '\u2013', num(g.pid));
    byId('gw-draining').hidden = !g.draining;

    put(byId('gw-config'), str(g.config_file) || '(none)');
    const gen = num(g.config_generation);
    put(byId('gw-config-gen'), gen !== null ? 'gen ' + gen : '', gen);

    const box = byId('gw-reload');
    const lr = g.last_reload && typeof g.last_reload === 'object' ? g.last_reload : null;
    const reloads = num(g.reloads) || 0, failures = num(g.reload_failures) || 0;
    const counts = reloads ? ' (' + reloads + ' reload' + (reloads === 1 ? '' : 's') +
      (failures ? ', ' + failures + ' failed' : '') + ')' : '';
    const sig = JSON.stringify([lr, counts]);
    if (box.dataset.sig !== sig) {
      box.dataset.sig = sig;
      box.textContent = '';
      if (!lr) {
        box.append(el('span', 'muted', 'never reloaded' + counts));
        box.removeAttribute('data-state');
        setTitle(box, '');
      } else if (lr.ok === false) {
        const s = el('span', 'reload-bad', 'reload failed ' + fmtClock(lr.at) + (lr.error ? ': ' + lr.error : ''));
        box.append(s, el('span', 'muted', counts));
        box.setAttribute('data-state', 'failed');
        setTitle(box, 'The last reload failed; the gateway still runs the previous configuration.' + (lr.error ? '\n' + lr.error : ''));
      } else {
        const s = el('span', 'reload-ok');
        s.append(el('b', null, '\u2713'), document.createTextNode(' reloaded ' + fmtClock(lr.at) + counts));
        box.append(s);
        box.setAttribute('data-state', 'ok');
        setTitle(box, '');
      }
    }
    put(byId('gw-bind'), arr(g.bind).join('  ') || '\u2013');
    put(byId('gw-http'), arr(g.http_listen).join('  ') || '\u2013');
  }

  function drawTotals(doc, agg) {
    const t = obj(doc.totals);
    putNum(byId('total-requests'), t.requests);
    putNum(byId('total-responses'), t.responses);
    putNum(byId('total-chunks'), t.stream_chunks);
    let rate = Array.isArray(doc.methods) ? 0 : null;
    for (const m of arr(doc.methods)) {
      const r = num(m && m.rate_per_s);
      if (r !== null) rate = (rate || 0) + r;
    }
    put(byId('total-rate'), fmtRate(rate), rate);
    const spark = byId('activity-spark');
    drawSpark(spark, agg);
    const summary = byId('activity-summary');
    const sig = [sumOf(agg.calls), maxOf(agg.calls), sumOf(agg.errors), maxOf(agg.queue)].join(',');
    if (summary.dataset.sig !== sig) {
      summary.dataset.sig = sig;
      summary.textContent = '';
      const [calls, peak, errors, queue] = sig.split(',').map(Number);
      summary.append(document.createTextNode(fmtInt(calls)), el('span', 'k', ' calls \u00b7 peak '),
        document.createTextNode(fmtInt(peak)), el('span', 'k', '/s \u00b7 '),
        document.createTextNode(fmtInt(errors)), el('span', 'k', errors === 1 ? ' error' : ' errors'),
        el('span', 'k', ' \u00b7 longest queue '), document.createTextNode(fmtInt(queue)));
    }

    const errs = obj(t.errors);
    const total = sumValues(errs);
    putNum(byId('total-errors'), total);
    const list = errorList(errs);
    // The three biggest codes (the card's title lists them all).
    chips(byId('errors-breakdown'), list, false, 3);
    setTitle(byId('kpi-errors'), Object.keys(errs).length
      ? Object.entries(errs).map(([k, v]) => k + ': ' + v).join('\n') : '');
    // Recent errors (all methods, last minute / 5 min) from the histories.
    const last60 = sumOf(agg.errors.subarray(HISTORY_S - 60));
    const last300 = sumOf(agg.errors);
    const recent = byId('errors-recent');
    put(recent, last300 ? fmtInt(last60) + ' last min \u00b7 ' + fmtInt(last300) + ' last 5 min' : 'none in the last 5 min', last60);
    setClass(recent, 'muted', !last300);
    setClass(byId('kpi-errors'), 'hot', last60 > 0);

    putNum(byId('total-inflight'), t.in_flight);
    putNum(byId('total-orphaned'), t.orphaned);
    setClass(byId('total-orphaned'), 'warn-text', num(t.orphaned) > 0);
    putNum(byId('total-queued'), t.queued);
    setClass(byId('kpi-queued'), 'busy', num(t.queued) > 0);
    const waiting = arr(doc.methods).filter((m) => num(m && m.queue_length) > 0)
      .sort((a, b) => b.queue_length - a.queue_length)
      .map((m) => m.name + ' ' + m.queue_length);
    put(byId('queued-where'), waiting.length ? waiting.slice(0, 3).join(', ') +
      (waiting.length > 3 ? ' +' + (waiting.length - 3) + ' more' : '') : 'no queue');
    setTitle(byId('queued-where'), waiting.length > 3 ? waiting.join('\n') : '');

    putNum(byId('dealers-active'), t.dealers_active);
    putNum(byId('dealers-inactive'), t.dealers_inactive);
    setClass(byId('dealers-inactive'), 'warn-text', num(t.dealers_inactive) > 0);
    setClass(byId('kpi-dealers'), 'hot', num(t.dealers_active) === 0);
    const http = obj(t.http);
    putNum(byId('http-connections'), http.connections);
    putNum(byId('http-streams'), http.streams);
    putNum(byId('http-requests'), http.requests);
    const jobs = obj(t.jobs);
    putNum(byId('jobs-active'), jobs.active);
    putNum(byId('jobs-finished'), jobs.finished);
  }

  const METHOD_CELLS = {
    name: 'l name mono', spark: 'l', calls: '', rate: '', queue: '', inflight: '',
    dealers: '', qwait: '', dtime: '', errors: 'l',
  };

  /* A method nobody has called yet and that holds nothing. */
  function idle(m) {
    return !(num(m.calls) > 0) && !(num(m.queue_length) > 0) && !(num(m.in_flight) > 0);
  }

  function drawMethods(doc, now) {
    const agg = slots([], now);
    const all = arr(doc.methods).filter((m) => m && m.name !== undefined)
      .slice().sort((a, b) => (str(a.name) < str(b.name) ? -1 : str(a.name) > str(b.name) ? 1 : 0));
    // Methods not called yet are folded away (unless every one is), so
    // that the ones at work stand out; the toggle shows them.
    const idleOnes = all.filter(idle);
    const fold = idleOnes.length > 0 && idleOnes.length < all.length;
    const methods = fold && !state.showIdle ? all.filter((m) => !idle(m)) : all;
    const toggle = byId('methods-idle-toggle');
    toggle.hidden = !fold;
    put(toggle, state.showIdle ? 'hide ' + idleOnes.length + ' not called yet'
      : '+ ' + idleOnes.length + ' not called yet');
    setTitle(toggle, fold ? idleOnes.map((m) => str(m.name)).join('\n') : '');
    const tbody = byId('methods-body');
    syncRows(tbody, methods, (m) => str(m.name), () => {
      const tr = makeRow('method-row', METHOD_CELLS);
      tr.cells_.spark.appendChild(el('div', 'spark-wrap'));
      tr.cells_.errors.appendChild(el('div', 'chips'));
      return tr;
    }, (tr, m) => {
      const c = tr.cells_;
      tr.setAttribute('data-method', str(m.name));
      put(c.name, str(m.name));
      const s = slots(m.history, now);
      addSlots(agg, s);
      drawSpark(c.spark.firstChild, s);
      putNum(c.calls, m.calls);
      put(c.rate, fmtRate(m.rate_per_s), num(m.rate_per_s));
      setClass(c.rate, 'zero', !num(m.rate_per_s));
      putNum(c.queue, m.queue_length);
      setClass(c.queue, 'warm', num(m.queue_length) > 0);
      putNum(c.inflight, m.in_flight);
      pair(c.dealers, m.dealers_available, m.dealers_busy);
      setClass(c.dealers, 'hot', num(m.dealers_available) === 0 && num(m.dealers_busy) === 0);
      setTitle(c.dealers, num(m.dealers_available) === 0 && num(m.dealers_busy) === 0
        ? 'no dealer serves this method' : 'available / busy');
      const qw = obj(m.queue_wait_ms), dt = obj(m.dealer_time_ms);
      pair(c.qwait, qw.p50, qw.p99, fmtPct);
      pair(c.dtime, dt.p50, dt.p99, fmtPct);
      const list = errorList(m.errors);
      chips(c.errors.firstChild, list, true);
      const total = sumValues(m.errors);
      c.errors.setAttribute('data-value', String(total));
      if (!list.length) { if (c.errors.firstChild.textContent === '') c.errors.firstChild.append(el('span', 'zero', '0')); }
    });
    byId('methods-empty').hidden = methods.length > 0;
    byId('methods-table').parentNode.hidden = methods.length === 0;
    put(byId('methods-count'), methods.length === all.length ? String(all.length || '')
      : methods.length + ' of ' + all.length);
    return agg;
  }

  function hbLimits(doc, d) {
    const g = obj(doc.gateway);
    const idle = num(g.heartbeat_timeout_s) || 10;
    const busy = num(g.busy_timeout_s) || 60;
    return num(d.in_flight) > 0 ? Math.max(idle, busy) : idle;
  }

  const DEALER_CELLS = {
    id: 'l name mono', group: 'l', host: 'l', state: 'l', load: 'l', served: '',
    heartbeat: '', methods: 'l wrap',
  };
  const STATE_ORDER = { active: 0, draining: 1, inactive: 2 };

  function drawDealers(doc) {
    const dealers = arr(doc.dealers).filter((d) => d && d.id !== undefined).slice().sort((a, b) => {
      const sa = STATE_ORDER[a.state] ?? 3, sb = STATE_ORDER[b.state] ?? 3;
      if (sa !== sb) return sa - sb;
      const ga = str(a.group), gb = str(b.group);
      if (ga !== gb) return ga < gb ? -1 : 1;
      return str(a.id) < str(b.id) ? -1 : 1;
    });
    syncRows(byId('dealers-body'), dealers, (d) => str(d.id), () => {
      const tr = makeRow('dealer-row', DEALER_CELLS);
      tr.cells_.state.appendChild(el('span', 'badge'));
      const load = el('div', 'load');
      const bar = el('div', 'bar');
      bar.appendChild(el('i'));
      load.append(bar, el('span', 'txt'));
      tr.cells_.load.appendChild(load);
      tr.cells_.methods.appendChild(el('div', 'methods'));
      return tr;
    }, (tr, d) => {
      const c = tr.cells_;
      const st = str(d.state) || 'unknown';
      tr.setAttribute('data-dealer', str(d.id));
      tr.setAttribute('data-state', st);
      setClass(tr, 'dim', st === 'inactive');
      put(c.id, str(d.id));
      setTitle(c.id, str(d.remote_addr));
      put(c.group, str(d.group));
      const host = [str(d.host), num(d.pid) !== null ? String(d.pid) : ''].filter(Boolean).join(' \u00b7 ');
      put(c.host, host || '\u2013');
      setTitle(c.host, str(d.remote_addr));
      const badge = c.state.firstChild;
      put(badge, st);
      badge.className = 'badge ' + (st === 'active' ? 'ok' : st === 'draining' ? 'warn' : st === 'inactive' ? 'bad' : '');
      const inf = num(d.in_flight) || 0, cap = num(d.capacity);
      const bar = c.load.querySelector('.bar');
      const frac = cap ? Math.min(1, inf / cap) : inf > 0 ? 1 : 0;
      bar.firstChild.style.width = (frac * 100).toFixed(1) + '%';
      setClass(bar, 'full', cap && inf >= cap);
      put(c.load.querySelector('.txt'), fmtInt(inf) + ' / ' + (cap === null ? '\u2013' : fmtInt(cap)));
      c.load.setAttribute('data-value', String(inf));
      setTitle(c.load, fmtInt(inf) + ' in flight of capacity ' + (cap === null ? '?' : cap));
      putNum(c.served, d.served);
      setTitle(c.served, num(d.dispatched) !== null ? fmtInt(d.dispatched) + ' dispatched' : '');
      const age = num(d.last_heartbeat_age_s);
      put(c.heartbeat, age === null ? '\u2013' : fmtDur(age, true) + ' ago', age === null ? null : age.toFixed(1), true);
      const limit = hbLimits(doc, d);
      setClass(c.heartbeat, 'hot', age !== null && st !== 'inactive' && age >= limit);
      setClass(c.heartbeat, 'warm', age !== null && st !== 'inactive' && age >= limit / 2 && age < limit);
      setClass(c.heartbeat, 'zero', st === 'inactive');
      setTitle(c.heartbeat, age !== null && age >= limit / 2 && st !== 'inactive'
        ? 'heartbeat overdue (limit ' + limit + ' s)' : '');
      const ms = arr(d.methods).map(str);
      const box = c.methods.firstChild;
      const sig = ms.join('\n');
      if (box.dataset.sig !== sig) {
        box.dataset.sig = sig;
        box.textContent = '';
        const prefix = str(d.group) ? str(d.group) + '.' : null;
        for (const m of ms) {
          const short = prefix && m.startsWith(prefix) ? m.slice(prefix.length) : m;
          const chip = el('span', 'chip', short);
          chip.title = m;
          box.appendChild(chip);
        }
      }
    });
    byId('dealers-empty').hidden = dealers.length > 0;
    byId('dealers-table').parentNode.hidden = dealers.length === 0;
    const act = dealers.filter((d) => d.state === 'active').length;
    put(byId('dealers-count'), dealers.length ? act + ' active of ' + dealers.length : '');
  }

  const WORKER_CELLS = { name: 'l name mono', instance: 'l mono', pid: '', state: 'l', restarts: '', exit: 'l' };

  function drawWorkers(doc) {
    const workers = arr(doc.workers).filter((w) => w && typeof w === 'object');
    byId('workers-panel').hidden = workers.length === 0;
    syncRows(byId('workers-body'), workers, (w) => str(w.name) + '\u0000' + str(w.instance), () => {
      const tr = makeRow('worker-row', WORKER_CELLS);
      tr.cells_.state.appendChild(el('span', 'badge'));
      return tr;
    }, (tr, w) => {
      const c = tr.cells_;
      const st = str(w.state) || 'unknown';
      tr.setAttribute('data-worker', str(w.name));
      tr.setAttribute('data-state', st);
      put(c.name, str(w.name));
      put(c.instance, str(w.instance));
      put(c.pid, num(w.pid) !== null && w.pid > 0 ? String(w.pid) : '\u2013', num(w.pid));
      put(c.state.firstChild, st);
      c.state.firstChild.className = 'badge ' + (/^(running|up|active|ready)$/.test(st) ? 'ok'
        : /^(starting|stopping|backoff|restarting)$/.test(st) ? 'warn'
          : /^(failed|fatal|exited|crashed|dead)$/.test(st) ? 'bad' : '');
      putNum(c.restarts, w.restarts);
      setClass(c.restarts, 'warm', num(w.restarts) > 0);
      let exit = w.last_exit;
      if (exit && typeof exit === 'object') {
        exit = Object.entries(exit).map(([k, v]) => k + ' ' + v).join(', ');
      }
      put(c.exit, exit === null || exit === undefined || exit === '' ? '\u2013' : str(exit));
    });
    put(byId('workers-count'), workers.length ? String(workers.length) : '');
  }

  const ERROR_CELLS = { time: 'l', method: 'l mono', code: 'l', message: 'l msg', request: 'l rid' };

  function drawErrors(doc, now) {
    const list = arr(doc.recent_errors).filter((e) => e && typeof e === 'object').slice(0, 50);
    // Errors have no id: key them by what they say (and a counter for
    // identical ones), so that rows stay put as new ones arrive on top.
    const seen = new Map();
    const keyed = list.map((e) => {
      const base = [e.at, e.method, e.code, e.request_id, e.message].map(str).join('\u0000');
      const n = (seen.get(base) || 0) + 1;
      seen.set(base, n);
      return { e, key: base + '\u0000' + n };
    });
    syncRows(byId('errors-body'), keyed, (k) => k.key, () => {
      const tr = makeRow('error-row', ERROR_CELLS);
      tr.cells_.code.appendChild(el('span', 'badge bad code'));
      return tr;
    }, (tr, { e }) => {
      const c = tr.cells_;
      put(c.time, fmtClock(e.at), num(e.at));
      const age = num(e.at) !== null ? now - e.at : null;
      setTitle(c.time, age !== null ? fmtDur(age) + ' ago' : '');
      put(c.method, str(e.method) || '\u2013');
      put(c.code.firstChild, str(e.code) || '?');
      put(c.message, str(e.message));
      setTitle(c.message, str(e.message).length > 60 ? str(e.message) : '');
      const rid = str(e.request_id);
      put(c.request, rid.length > 13 ? rid.slice(0, 8) + '\u2026' : rid);
      setTitle(c.request, rid);
    });
    byId('errors-empty').hidden = list.length > 0;
    byId('errors-table').parentNode.hidden = list.length === 0;
    put(byId('recent-count'), list.length ? (list.length >= 50 ? 'last 50' : String(list.length)) : '');
  }

  function draw(doc) {
    state.doc = doc;
    const now = snapshotNow(doc);
    drawHeader(doc);
    const agg = drawMethods(doc, now);
    drawTotals(doc, agg);
    drawDealers(doc);
    drawWorkers(doc);
    drawErrors(doc, now);
    put(byId('snapshot-at'), 'snapshot ' + fmtClock(now) + ' \u00b7 ' + state.snapshots + ' received', state.snapshots, true);
    state.drawn = true;
    updateTitle();
  }

  // ---- connection ------------------------------------------------------------

  const params = new URLSearchParams(location.search);
  const key = params.get('key') || params.get('api_key') || '';

  function withKey(path) {
    return key ? path + (path.includes('?') ? '&' : '?') + 'api_key=' + encodeURIComponent(key) : path;
  }

  const FAVICON = {
    live: '#3fb27f', stale: '#e0a040', reconnecting: '#e0a040', unauthorized: '#e05a5a', connecting: '#8a93a3',
  };

  function setFavicon(color) {
    const link = document.getElementById('favicon');
    if (!link) return;
    const svgText = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'><circle cx='8' cy='8' r='6' fill='" + color + "'/></svg>";
    const href = 'data:image/svg+xml,' + encodeURIComponent(svgText);
    if (link.getAttribute('href') !== href) link.setAttribute('href', href);
  }

  function updateTitle() {
    const doc = state.doc;
    const parts = ['VoidRail'];
    if (doc) {
      const t = obj(doc.totals);
      if (num(t.in_flight) !== null) parts.push(t.in_flight + ' in flight');
      if (num(t.queued) > 0) parts.push(t.queued + ' queued');
    }
    let title = parts.join(' \u00b7 ');
    if (state.conn !== 'live') title = '(' + state.conn + ') ' + title;
    if (document.title !== title) document.title = title;
  }

  function setConn(s) {
    if (state.conn === s) return;
    state.conn = s;
    document.body.setAttribute('data-conn', s);
    put(byId('conn-state'), s);
    setFavicon(FAVICON[s] || FAVICON.connecting);
    updateTitle();
    tick();
  }

  function banner(text) {
    const b = byId('banner');
    if (!text) { b.hidden = true; return; }
    b.textContent = text;
    b.hidden = false;
  }

  function onSnapshot(data) {
    let doc;
    try {
      doc = JSON.parse(data);
    } catch (err) {
      return;
    }
    if (!doc || typeof doc !== 'object') return;
    const t = performance.now();
    if (state.lastAt) {
      state.intervals.push(t - state.lastAt);
      if (state.intervals.length > 10) state.intervals.shift();
    }
    state.lastAt = t;
    state.snapshots += 1;
    state.backoff = 1000;
    banner('');
    try {
      draw(doc);
    } finally {
      setConn('live');
    }
  }

  /* No snapshot for this long (ms) while connected: "stale". */
  function staleAfter() {
    const iv = state.intervals.length ? Math.max(...state.intervals) : 1000;
    return Math.max(5000, 3 * iv);
  }

  function tick() {
    const age = byId('conn-age');
    if (!state.lastAt) {
      put(age, '');
      return;
    }
    const s = (performance.now() - state.lastAt) / 1000;
    put(age, 'updated ' + (s < 1 ? 'just now' : fmtDur(s) + ' ago'));
    if (state.conn === 'live' && s * 1000 > staleAfter()) setConn('stale');
  }

  /* When the stream is closed for good (an HTTP error such as 401, or a
     response that is not an event stream), EventSource does not retry:
     find out why, and try again later. */
  async function diagnose() {
    try {
      const r = await fetch(withKey('/status.json'), { cache: 'no-store' });
      if (r.status === 401 || r.status === 403) {
        setConn('unauthorized');
        banner(key ? 'The gateway refused the key given in ?key= (HTTP ' + r.status + ').'
          : 'This gateway requires a client key: open this page as /status?key=YOUR_KEY.');
        return true;
      }
    } catch (err) {
      // the gateway is away: keep reconnecting
    }
    return false;
  }

  function reconnectLater() {
    clearTimeout(state.retry);
    const wait = state.backoff;
    state.backoff = Math.min(state.backoff * 2, 15000);
    state.retry = setTimeout(connect, wait);
  }

  function connect() {
    clearTimeout(state.retry);
    if (state.es) state.es.close();
    if (typeof EventSource === 'undefined') {
      poll();
      return;
    }
    const es = new EventSource(withKey('/status/events'));
    state.es = es;
    es.addEventListener('snapshot', (ev) => onSnapshot(ev.data));
    es.onmessage = (ev) => onSnapshot(ev.data);     // unnamed events too
    es.onerror = () => {
      if (es !== state.es) return;
      if (state.conn !== 'unauthorized') setConn('reconnecting');
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        diagnose().then(() => reconnectLater());
      }
    };
  }

  /* Without EventSource: poll /status.json. */
  async function poll() {
    try {
      const r = await fetch(withKey('/status.json'), { cache: 'no-store' });
      if (r.ok) onSnapshot(await r.text());
      else if (!(await diagnose())) setConn('reconnecting');
    } catch (err) {
      setConn('reconnecting');
    }
    state.retry = setTimeout(poll, 2000);
  }

  function start() {
    byId('methods-idle-toggle').addEventListener('click', () => {
      state.showIdle = !state.showIdle;
      try {
        localStorage.setItem('voidrail.status.showIdle', state.showIdle ? '1' : '0');
      } catch (err) {
        // not kept
      }
      if (state.doc) draw(state.doc);
    });
    const link = byId('link-json');
    if (link) link.setAttribute('href', withKey('/status.json'));
    setFavicon(FAVICON.connecting);
    connect();
    setInterval(tick, 500);
  }

  // For tests and the console.
  window.voidrailStatus = { state, draw };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
