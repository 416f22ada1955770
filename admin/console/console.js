// baldur console: reads the admin API with the key of this tab and draws
// every view with DOM calls. Data is only ever written with textContent
// (never innerHTML), so a reason or a tenant key cannot become markup.
'use strict';

(function () {
  const base = location.pathname.replace(/\/console\/?$/, '');
  const LEVELS = { PUBLIC: 0, VIEWER: 1, OPERATOR: 2, ADMIN: 3 };
  const POLL_MS = 5000;
  const SVG = 'http://www.w3.org/2000/svg';

  // The key lives in this tab's sessionStorage and memory only: never in a
  // URL, never in localStorage, never in a cookie.
  let key = sessionStorage.getItem('baldur.key') || '';
  let access = 'PUBLIC';
  let current = '';
  let timer = 0;
  let generation = 0;

  const $ = (id) => document.getElementById(id);

  // el builds an element; strings and numbers become text nodes.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') e.textContent = String(v);
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  const can = (need) => LEVELS[access] >= LEVELS[need];

  // api calls the admin API. Every request carries the key header and a
  // custom header; writes are JSON, which a page of another origin cannot
  // send without a preflight the server never grants.
  async function api(method, path, body) {
    const headers = { Accept: 'application/json', 'X-Baldur-Console': '1' };
    if (key) headers['X-Baldur-Admin-Key'] = key;
    const init = { method, headers, credentials: 'omit', cache: 'no-store', redirect: 'error' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(base + path, init);
    let data = null;
    if ((resp.headers.get('Content-Type') || '').startsWith('application/json')) {
      data = await resp.json().catch(() => null);
    }
    return { status: resp.status, ok: resp.ok, data, retryAfter: resp.headers.get('Retry-After') };
  }

  // ---- formatting ----

  function fmt(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(3).replace(/\.?0+$/, '');
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    if (typeof v === 'string') {
      if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(v)) return v.slice(0, 19).replace('T', ' ') + ' UTC';
      return v;
    }
    const s = JSON.stringify(v);
    return s.length > 300 ? s.slice(0, 300) + '…' : s;
  }

  function errorText(r) {
    if (r.status === 429) return 'rate limited: retry in ' + (r.retryAfter || '?') + ' s';
    const msg = r.data && r.data.error ? r.data.error : 'HTTP ' + r.status;
    return msg;
  }

  // ---- building blocks ----

  // card is a panel: body is redrawn on every poll; tail holds the forms,
  // built once so that polling never takes the focus from a field being
  // typed in. A card whose endpoint is not configured hides its tail.
  function card(title, wide, ...tail) {
    const body = el('div', { class: 'body' }, el('p', { class: 'muted', text: 'loading…' }));
    const t = el('div', { class: 'tail' }, tail.flat().filter(Boolean));
    const c = el('div', { class: wide ? 'card wide' : 'card' }, el('h2', { text: title }), body, t);
    c.body = body;
    c.tail = t;
    return c;
  }

  function fill(c, ...nodes) { c.body.replaceChildren(...nodes.flat(Infinity).filter(Boolean)); }

  function notConfigured(r) {
    const why = r.data && r.data.error ? ' (' + r.data.error + ')' : '';
    return el('p', { class: 'notconfigured', text: 'not configured' + why });
  }

  // load fetches path into card c: a 404 shows "not configured", another
  // error its message; otherwise draw(data) returns the card's content.
  // Reads of one refresh are shared: the header and a view both show
  // GET /status, and each costs a request against the rate limit.
  let cycle = new Map();
  function get(path) {
    if (!cycle.has(path)) cycle.set(path, api('GET', path));
    return cycle.get(path);
  }

  async function load(c, path, draw) {
    let r;
    try {
      r = await get(path);
    } catch (e) {
      fill(c, el('p', { class: 'error', text: 'unreachable: ' + e.message }));
      return null;
    }
    c.tail.hidden = r.status === 404;
    if (r.status === 404) { fill(c, notConfigured(r)); return null; }
    if (!r.ok) { fill(c, el('p', { class: 'error', text: errorText(r) })); return null; }
    fill(c, draw(r.data));
    return r.data;
  }

  // table draws a list of flat objects: one column per key seen (or the
  // given columns), one row per item, and the row actions the caller may
  // take (none for a VIEWER).
  function table(items, opts) {
    opts = opts || {};
    if (!Array.isArray(items) || items.length === 0) return el('p', { class: 'muted', text: opts.empty || 'none' });
    let cols = opts.columns;
    if (!cols) {
      cols = [];
      for (const it of items) for (const k of Object.keys(it || {})) if (!cols.includes(k)) cols.push(k);
    }
    const actions = (opts.actions || []).filter((a) => can(a.need));
    const head = el('tr', {}, cols.map((c) => el('th', { text: c })), actions.length ? el('th', { text: 'actions' }) : null);
    const rows = items.map((it) => el('tr', {},
      cols.map((c) => {
        const v = it ? it[c] : undefined;
        return el('td', { class: typeof v === 'number' ? 'num' : null, 'data-col': c, text: fmt(v) });
      }),
      actions.length ? el('td', { class: 'actions' }, actions.filter((a) => !a.when || a.when(it)).map((a) =>
        el('button', { type: 'button', class: 'small' + (a.destructive ? ' danger' : ''), 'data-action': a.label,
          'data-read': a.need === 'VIEWER',
          on: { click: () => a.run(it) } }, a.label))) : null));
    return el('table', { class: opts.cls || null }, el('thead', {}, head), el('tbody', {}, rows));
  }

  // detail draws an object: its scalars as a key/value table, its arrays of
  // objects as tables of their own.
  function detail(obj, opts) {
    if (obj === null || typeof obj !== 'object') return el('p', { text: fmt(obj) });
    if (Array.isArray(obj)) return table(obj, opts);
    const scalars = [];
    const parts = [];
    for (const [k, v] of Object.entries(obj)) {
      if (Array.isArray(v) && v.some((x) => x && typeof x === 'object')) {
        parts.push(el('h3', { text: k }), table(v, (opts && opts[k]) || {}));
      } else {
        scalars.push([k, v]);
      }
    }
    const kv = scalars.length ? el('table', { class: 'kv' }, el('tbody', {},
      scalars.map(([k, v]) => el('tr', {}, el('th', { text: k }), el('td', { 'data-col': k, text: fmt(v) }))))) : null;
    return [kv, ...parts];
  }

  function result(r, what) {
    const ok = r.ok;
    return el('div', {}, el('p', { class: ok ? 'ok' : 'error', text: what + (ok ? ': done' : ': ' + errorText(r)) }),
      ok && r.data ? el('pre', { class: 'result', text: JSON.stringify(r.data, null, 2) }) : null);
  }

  // ---- confirmation ----

  // confirmAction asks for the reason of a change (when the endpoint records
  // one) and, for a destructive change, a typed CONFIRM. It resolves to the
  // reason, or null when cancelled.
  function confirmAction(opts) {
    const dlg = $('confirm-dialog');
    $('confirm-title').textContent = opts.title;
    $('confirm-scope').textContent = opts.scope;
    $('confirm-note').textContent = opts.note || '';
    $('confirm-reason').value = '';
    $('confirm-typed').value = '';
    $('confirm-error').textContent = '';
    $('confirm-reason-label').hidden = opts.reason === false;
    $('confirm-typed-label').hidden = !opts.destructive;
    $('confirm-ok').textContent = opts.verb || 'Confirm';
    return new Promise((resolve) => {
      const form = $('confirm-form');
      const done = (v) => {
        form.removeEventListener('submit', submit);
        $('confirm-cancel').removeEventListener('click', cancel);
        dlg.removeEventListener('cancel', cancel);
        if (dlg.open) dlg.close();
        resolve(v);
      };
      const submit = (ev) => {
        ev.preventDefault();
        const reason = $('confirm-reason').value.trim();
        if (opts.reason !== false && reason === '') { $('confirm-error').textContent = 'A reason is required.'; return; }
        if (opts.destructive && $('confirm-typed').value !== 'CONFIRM') { $('confirm-error').textContent = 'Type CONFIRM to proceed.'; return; }
        done(reason);
      };
      const cancel = (ev) => { if (ev) ev.preventDefault(); done(null); };
      form.addEventListener('submit', submit);
      $('confirm-cancel').addEventListener('click', cancel);
      dlg.addEventListener('cancel', cancel);
      dlg.showModal();
      (opts.reason === false ? $('confirm-typed') : $('confirm-reason')).focus();
    });
  }

  // act confirms, sends, shows the answer in out and refreshes the view.
  async function act(a) {
    const reason = await confirmAction(a);
    if (reason === null) return;
    const body = typeof a.body === 'function' ? a.body() : (a.body || {});
    if (a.reason !== false) body.reason = reason;
    let r;
    try {
      r = await api(a.method || 'POST', a.path, body);
    } catch (e) {
      r = { ok: false, status: 0, data: { error: e.message } };
    }
    if (a.out) a.out.replaceChildren(result(r, a.title));
    else flash(r.ok ? a.title + ': done' : a.title + ': ' + errorText(r), !r.ok);
    refresh();
  }

  function flash(msg, bad) {
    const n = $('notice');
    n.textContent = msg;
    n.className = bad ? 'notice error' : 'notice';
    n.hidden = false;
  }

  // actionForm builds a form whose fields feed one action; shown only when
  // the caller's level allows it.
  function actionForm(spec) {
    if (!can(spec.need)) return null;
    const inputs = {};
    const fields = spec.fields.map((f) => {
      let input;
      if (f.options) input = el('select', { name: f.name }, f.options.map((o) => el('option', { value: o, text: o })));
      else if (f.type === 'checkbox') input = el('input', { type: 'checkbox', name: f.name, checked: f.checked });
      else if (f.type === 'textarea') input = el('textarea', { name: f.name, rows: 2, placeholder: f.placeholder || '' });
      else input = el('input', { type: 'text', name: f.name, placeholder: f.placeholder || '', value: f.value || '' });
      inputs[f.name] = input;
      return el('label', {}, f.label, input);
    });
    const out = el('div', { class: 'out' });
    const values = () => {
      const v = {};
      for (const [k, i] of Object.entries(inputs)) v[k] = i.type === 'checkbox' ? i.checked : i.value.trim();
      return v;
    };
    const form = el('form', { class: 'action', id: spec.id || null, on: {
      submit: (ev) => {
        ev.preventDefault();
        const v = values();
        let body;
        try { body = spec.body(v); } catch (e) { out.replaceChildren(el('p', { class: 'error', text: e.message })); return; }
        act({ title: spec.title, scope: spec.scope(v), destructive: spec.destructive, reason: spec.reason,
          method: spec.method, path: typeof spec.path === 'function' ? spec.path(v) : spec.path, body, out, note: spec.note });
      },
    } }, fields, el('button', { type: 'submit', class: spec.destructive ? 'danger' : null }, spec.title));
    return el('div', {}, form, out);
  }

  // jsonForm posts a JSON document typed by the operator (a rollout's or an
  // experiment's definition), with the reason the confirmation asks.
  function jsonForm(title, path, scope) {
    return actionForm({ need: 'OPERATOR', title, path, scope: () => scope,
      fields: [{ name: 'doc', label: 'definition (JSON object)', type: 'textarea', placeholder: '{"name": "..."}' }],
      body: (x) => {
        const v = JSON.parse(x.doc || 'null');
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('the definition must be a JSON object');
        return v;
      } });
  }

  const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
  function selector(v, allowed) {
    const out = {};
    if (v.ids) out.ids = list(v.ids);
    for (const k of allowed) if (v[k]) out[k] = v[k];
    if (Object.keys(out).length !== 1) throw new Error('give exactly one of: ids, ' + allowed.join(', '));
    return out;
  }
  const scopeOf = (o) => Object.entries(o).map(([k, v]) => k + ' ' + (Array.isArray(v) ? v.join(', ') : v)).join('; ');

  // ---- charts (inline SVG, drawn here) ----

  function burnChart(rates) {
    if (!rates || rates.length === 0) return null;
    const w = 420, rowH = 26, left = 60, h = rates.length * rowH + 24;
    // A log scale: 1× (the budget spent exactly over the window) and the
    // 14.4× of a fast-burn page both stay readable.
    const top = Math.max(14.4, ...rates.map((r) => r.rate));
    const x = (v) => left + (w - left - 50) * Math.log1p(Math.max(v, 0)) / Math.log1p(top);
    const s = svg('svg', { class: 'chart', viewBox: '0 0 ' + w + ' ' + h, role: 'img', 'aria-label': 'burn rates' });
    rates.forEach((r, i) => {
      const y = i * rowH + 4;
      s.append(svg('text', { x: 0, y: y + 15 }, r.window));
      s.append(svg('rect', { class: r.rate >= 1 ? 'bar hot' : 'bar', x: left, y, width: Math.max(x(r.rate) - left, 1), height: rowH - 8 }));
      s.append(svg('text', { x: x(r.rate) + 4, y: y + 15 }, fmt(r.rate) + '×'));
    });
    const one = x(1);
    s.append(svg('line', { class: 'mark', x1: one, x2: one, y1: 0, y2: h - 18 }));
    s.append(svg('text', { x: one - 6, y: h - 4 }, '1×'));
    return s;
  }

  function sparkline(series) {
    if (!series || series.length < 2) return el('p', { class: 'muted', text: 'history starts with the first poll; a chart follows after a few.' });
    const w = 420, h = 90, pad = 14, head = 24;
    const top = Math.max(1, ...series.map((p) => p.rejected));
    const pts = series.map((p, i) => {
      const x = pad + (w - 2 * pad) * i / (series.length - 1);
      const y = h - pad - (h - pad - head) * p.rejected / top;
      return x.toFixed(1) + ',' + y.toFixed(1);
    });
    const s = svg('svg', { class: 'chart', viewBox: '0 0 ' + w + ' ' + h, role: 'img', 'aria-label': 'rejections over time' });
    s.append(svg('line', { class: 'axis', x1: pad, x2: w - pad, y1: h - pad, y2: h - pad }));
    s.append(svg('polyline', { class: 'line', points: pts.join(' ') }));
    s.append(svg('text', { x: pad, y: 12 }, 'rejections per sample (max ' + top + ')'));
    return s;
  }

  // ---- views ----

  async function header() {
    const r = await get('/status').catch(() => null);
    if (!r || !r.ok) return;
    const st = r.data;
    $('service').textContent = [st.service, st.region].filter(Boolean).join(' · ');
    const em = st.emergency;
    const lb = $('level-badge');
    lb.textContent = em ? em.level : 'no emergency manager';
    lb.className = 'badge' + (em ? ' lvl-' + em.level_num : '');
    const gb = $('glass-badge');
    gb.hidden = !st.governance.break_glass;
    gb.className = 'badge glass';
  }

  function overview(v) {
    const emOut = el('div');
    const forms = [
      actionForm({ id: 'trigger-form', need: 'OPERATOR', title: 'Raise level', path: '/emergency/trigger',
        fields: [{ name: 'level', label: 'level', options: ['LEVEL_1', 'LEVEL_2', 'LEVEL_3'] },
          { name: 'duration', label: 'duration (empty: until stepped down)', placeholder: '30m' }],
        scope: (x) => 'emergency level ' + x.level + ' for the whole service',
        body: (x) => (x.duration ? { level: x.level, duration: x.duration } : { level: x.level }) }),
      can('OPERATOR') ? el('div', { class: 'action' }, el('button', { type: 'button', class: 'secondary', id: 'stepdown', on: { click: () => act({
        title: 'Step down one level', scope: 'emergency level of the whole service', path: '/emergency/stepdown', out: emOut }) } },
      'Step down one level')) : null,
      can('ADMIN') ? el('div', { class: 'action' }, el('button', { type: 'button', class: 'danger', id: 'breakglass', on: { click: () => {
        const on = !$('glass-badge').hidden;
        act({ title: on ? 'Turn break glass off' : 'Turn break glass on', destructive: true, path: '/breakglass', out: emOut,
          scope: on ? 'restores every gate of the service' : 'every governance gate of the service: allows everything', body: { on: !on } });
      } } }, 'Toggle break glass')) : null,
      emOut,
    ];
    const ksForm = actionForm({ id: 'killswitch-form', need: 'OPERATOR', title: 'Throw kill switch', path: '/killswitch',
      fields: [{ name: 'scope', label: 'scope', options: ['operation', 'service', 'all'] },
        { name: 'pattern', label: 'pattern', placeholder: 'GET /api/items/{id}' },
        { name: 'expires_in', label: 'expires in (empty: never)', placeholder: '15m' }],
      scope: (x) => x.scope === 'all' ? 'every operation of every service' : x.scope + ' ' + x.pattern,
      body: (x) => {
        const b = { scope: x.scope };
        if (x.scope !== 'all') b.pattern = x.pattern;
        if (x.expires_in) b.expires_in = x.expires_in;
        return b;
      } });
    const gov = card('Emergency level', false, forms);
    const ks = card('Kill switches', false, ksForm);
    const budget = card('Error budget');
    const rej = card('Rejections by reason');
    const fleet = card('Fleet');
    v.append(gov, ks, budget, rej, fleet);

    return async function () {
      await Promise.all([
        load(gov, '/status', (st) => {
          const em = st.emergency;
          const out = [];
          if (!em) out.push(notConfigured({ data: { error: 'no emergency manager' } }));
          else {
            out.push(el('p', { class: 'big lvl-text-' + em.level_num, id: 'emergency-level', text: em.level }));
            out.push(detail({ reason: em.reason, actor: em.actor, since: em.since, expires_at: em.expires_at, auto: em.auto }));
          }
          out.push(el('p', {}, 'Break glass: ', el('strong', { id: 'break-glass', class: st.governance.break_glass ? 'error' : 'ok',
            text: st.governance.break_glass ? 'ON (every gate allows)' : 'off' }),
          ' · System enabled: ', el('strong', { text: fmt(st.governance.system_enabled) })));
          if (st.warnings) out.push(el('p', { class: 'error', text: st.warnings.join('; ') }));
          fill(ks, table(st.governance.kill_switches, {
            cls: 'killswitches',
            empty: st.governance.checker ? 'no kill switch thrown' : 'no governance checker',
            columns: ['scope', 'pattern', 'reason', 'actor', 'since', 'expires_at'],
            actions: [{ label: 'Lift', need: 'OPERATOR', run: (k) => act({ title: 'Lift kill switch', reason: false,
              scope: k.scope + ' ' + k.pattern, method: 'DELETE', path: '/killswitch', body: { scope: k.scope, pattern: k.pattern } }) }],
          }));
          return out;
        }),
        load(budget, '/budget', (b) => [
          el('p', { class: 'big', text: b.remaining_pct.toFixed(1) + ' % left' }),
          el('p', { class: 'muted', text: 'target ' + fmt(b.target) + ' over ' + b.window + ' · ' + b.failed + ' failed of ' + b.total }),
          table(b.items, { columns: ['tier', 'remaining_pct', 'block_pct', 'warn_pct', 'state'] }),
          el('h3', { text: 'burn rates' }), burnChart(b.burn_rates)]),
        load(rej, '/rejections', (x) => [
          table(x.items, { empty: 'no rejection yet', columns: ['reason', 'gate', 'last_1m', 'last_5m', 'total'] }),
          sparkline(x.series),
          el('p', { class: 'muted', text: 'history: ' + Math.round(x.history_s) + ' s' })]),
        load(fleet, '/fleet', (f) => [
          el('p', { class: 'big', text: f.replicas + ' replicas' }),
          table(f.members, { columns: ['id', 'cluster', 'version', 'started', 'expires'] }),
          el('h3', { text: 'stores' }), table(f.stores),
          f.warnings ? el('p', { class: 'error', text: f.warnings.join('; ') }) : null]),
      ]);
    };
  }

  function policies(v) {
    const force = actionForm({ id: 'force-form', need: 'ADMIN', title: 'Force breaker', destructive: true, reason: false,
      path: '/breakers/force',
      fields: [{ name: 'policy', label: 'policy' }, { name: 'partition_key', label: 'partition key' },
        { name: 'operation', label: 'operation' }, { name: 'state', label: 'state', options: ['open', 'closed', 'auto'] },
        { name: 'ttl', label: 'ttl (empty: default)', placeholder: '5m' }],
      scope: (x) => 'policy ' + x.policy + ', partition ' + (x.partition_key || '-') + ' ' + (x.operation || '') + ' → ' + x.state,
      body: (x) => {
        const b = { policy: x.policy, state: x.state };
        if (x.partition_key) b.partition_key = x.partition_key;
        if (x.operation) b.operation = x.operation;
        if (x.ttl) b.ttl = x.ttl;
        return b;
      } });
    const gates = card('Gates', true);
    const br = card('Breakers', false, force);
    const bh = card('Bulkheads');
    v.append(gates, br, bh);
    return async function () {
      await Promise.all([
        load(gates, '/policies', (x) => table(x.items, { empty: 'no policy loaded' })),
        load(br, '/status', (st) => {
          fill(bh, table(st.bulkheads, { empty: 'no named bulkhead' }));
          const rows = [];
          for (const b of st.breakers) {
            if (!b.partitions || b.partitions.length === 0) rows.push({ policy: b.policy, open: b.open });
            else for (const p of b.partitions) rows.push(Object.assign({ policy: b.policy }, p));
          }
          return table(rows, { empty: 'no policy with a breaker' });
        }),
      ]);
    };
  }

  function dlq(v) {
    const filter = { domain: '', status: '', group: '' };
    const filterForm = el('form', { class: 'filter', on: { submit: (ev) => {
      ev.preventDefault();
      for (const k of Object.keys(filter)) filter[k] = ev.target.elements[k].value.trim();
      refresh();
    } } }, Object.keys(filter).map((k) => el('label', {}, k, el('input', { name: k, type: 'text' }))),
    el('button', { type: 'submit', class: 'secondary', 'data-read': true }, 'Filter'));
    const sel = ['domain', 'group'];
    const selFields = [{ name: 'ids', label: 'ids (comma-separated)' }, { name: 'domain', label: 'or domain' }, { name: 'group', label: 'or group' }];
    const forms = [
      actionForm({ id: 'replay-form', need: 'OPERATOR', title: 'Replay', path: '/dlq/replay',
        fields: selFields.concat([{ name: 'dry_run', label: 'dry run', type: 'checkbox', checked: true }]),
        scope: (x) => scopeOf(selector(x, sel)) + (x.dry_run ? ' (dry run)' : ''),
        body: (x) => Object.assign(selector(x, sel), { dry_run: x.dry_run }) }),
      actionForm({ need: 'OPERATOR', title: 'Redrive', path: '/dlq/redrive', fields: [selFields[0], selFields[2]],
        scope: (x) => scopeOf(selector(x, ['group'])), body: (x) => selector(x, ['group']) }),
      actionForm({ need: 'OPERATOR', title: 'Auto-replay', path: '/dlq/auto-replay',
        fields: [{ name: 'domain', label: 'domain' }, { name: 'armed', label: 'armed', type: 'checkbox' }],
        scope: (x) => 'auto-replay of domain ' + x.domain + (x.armed ? ': arm' : ': disarm'),
        body: (x) => ({ domain: x.domain, armed: x.armed }) }),
      actionForm({ need: 'ADMIN', title: 'Delete entries', destructive: true, method: 'DELETE', path: '/dlq/entries',
        fields: [selFields[0], selFields[2]], scope: (x) => scopeOf(selector(x, ['group'])), body: (x) => selector(x, ['group']) }),
    ].filter(Boolean);
    const stats = card('DLQ stats', false, forms);
    const groups = card('Groups', true); // wide: a group has a dozen columns
    const entries = card('Entries', true, filterForm);
    v.append(stats, groups, entries);
    return async function () {
      const q = new URLSearchParams({ limit: '100' });
      for (const [k, val] of Object.entries(filter)) if (val) q.set(k, val);
      await Promise.all([
        load(stats, '/dlq/stats', (x) => detail(x)),
        load(groups, '/dlq/groups', (x) => table(x.items)),
        load(entries, '/dlq/entries?' + q.toString(), (x) => table(x.items)),
      ]);
    };
  }

  // showDetail shows an experiment's or rollout's detail in out, with the
  // chart image a chaos report has (fetched with the key, shown as a blob).
  async function showDetail(out, path, chart) {
    const r = await api('GET', path).catch((e) => ({ ok: false, status: 0, data: { error: e.message } }));
    if (!r.ok) { out.replaceChildren(el('p', { class: 'error', text: errorText(r) })); return; }
    out.replaceChildren(el('h3', { text: path }), ...[detail(r.data)].flat().filter(Boolean));
    const headers = key ? { 'X-Baldur-Admin-Key': key } : {};
    for (const c of chart || []) {
      const img = await fetch(base + c, { headers, credentials: 'omit' }).catch(() => null);
      if (img && img.ok && (img.headers.get('Content-Type') || '').startsWith('image/png')) {
        out.append(el('img', { src: URL.createObjectURL(await img.blob()), alt: 'experiment chart', class: 'chart-img' }));
        break;
      }
    }
  }

  function canary(v) {
    const out = el('div');
    const panic = can('ADMIN') ? el('div', { class: 'action' }, el('button', { type: 'button', class: 'danger', on: { click: () => act({
      title: 'Panic rollback', destructive: true, path: '/canary/panic-rollback', scope: 'every active rollout of the service' }) } },
    'Panic rollback (all)')) : null;
    const create = jsonForm('Start rollout', '/canary/rollouts', 'a new rollout: its configuration document and stages');
    const roll = card('Rollouts', true, panic, create, out);
    v.append(roll);
    const step = (verb) => ({ label: verb, need: 'OPERATOR', run: (it) => act({ title: verb + ' rollout ' + it.id,
      scope: 'rollout ' + it.id, path: '/canary/rollouts/' + encodeURIComponent(it.id) + '/' + verb }) });
    return async function () {
      await load(roll, '/canary/rollouts', (x) => table(x.items, { actions: [
        { label: 'details', need: 'VIEWER', run: (it) => showDetail(out, '/canary/rollouts/' + encodeURIComponent(it.id)) },
        step('promote'), step('pause'), step('resume'), step('rollback')] }));
    };
  }

  function chaos(v) {
    const out = el('div');
    const killAll = can('ADMIN') ? el('div', { class: 'action' }, el('button', { type: 'button', class: 'danger', on: { click: () => act({
      title: 'Kill all experiments', destructive: true, path: '/chaos/kill-all', scope: 'every running experiment' }) } },
    'Kill all')) : null;
    const create = jsonForm('Create experiment', '/chaos/experiments', 'a new experiment (it still needs approval to start)');
    const exps = card('Experiments', true, killAll, create, out);
    v.append(exps);
    const step = (verb) => ({ label: verb, need: 'OPERATOR', run: (it) => act({ title: verb + ' experiment ' + it.id,
      scope: 'experiment ' + it.id, path: '/chaos/experiments/' + encodeURIComponent(it.id) + '/' + verb }) });
    return async function () {
      await load(exps, '/chaos/experiments', (x) => table(x.items, { actions: [
        { label: 'report', need: 'VIEWER', run: (it) => {
          const p = '/chaos/experiments/' + encodeURIComponent(it.id);
          showDetail(out, p + '/report', [p + '/report/chart.png', p + '/chart.png']);
        } },
        step('approve'), step('start'), step('stop')] }));
    };
  }

  function watchdog(v) {
    const out = el('div');
    const tick = can('OPERATOR') ? el('div', { class: 'action' }, el('button', { type: 'button', class: 'secondary', on: { click: async () => {
      const r = await api('POST', '/watchdog/tick', {}).catch((e) => ({ ok: false, status: 0, data: { error: e.message } }));
      out.replaceChildren(result(r, 'Dry-run tick'));
    } } }, 'Dry-run tick')) : null;
    const release = actionForm({ need: 'ADMIN', title: 'Release brake', destructive: true, path: '/watchdog/brake/release',
      fields: [{ name: 'check', label: 'check' }], scope: (x) => 'brake of check ' + x.check, body: (x) => ({ check: x.check }) });
    const st = card('Watchdog', true, tick, release, out);
    v.append(st);
    return async function () {
      await load(st, '/watchdog/status', (x) => detail(x));
    };
  }

  function notifications(v) {
    const create = actionForm({ need: 'OPERATOR', title: 'Add silence', path: '/notifications/silences',
      fields: [{ name: 'matchers', label: 'matchers (JSON)', type: 'textarea', placeholder: '{"source":"watchdog","min_priority":"HIGH"}' },
        { name: 'duration', label: 'duration', placeholder: '1h' }],
      scope: (x) => 'notifications matching ' + x.matchers + ' for ' + x.duration,
      body: (x) => ({ matchers: JSON.parse(x.matchers || 'null'), duration: x.duration }) });
    const test = actionForm({ need: 'OPERATOR', title: 'Send test', path: '/notifications/test',
      fields: [{ name: 'channel', label: 'channel' }], scope: (x) => 'channel ' + x.channel, body: (x) => ({ channel: x.channel }) });
    const ch = card('Channels', true, test); // wide: a channel has a dozen counters
    const si = card('Silences', false, create);
    const res = card('Recent results', true);
    v.append(ch, si, res);
    return async function () {
      await Promise.all([
        load(ch, '/notifications/channels', (x) => table(x.items)),
        load(si, '/notifications/silences', (x) => table(x.items, { actions: [{ label: 'Delete', need: 'ADMIN',
          run: (it) => act({ title: 'Delete silence ' + it.id, scope: 'silence ' + it.id, method: 'DELETE',
            path: '/notifications/silences/' + encodeURIComponent(it.id) }) }] })),
        load(res, '/notifications/results', (x) => table(x.items)),
      ]);
    };
  }

  function audit(v) {
    const a = card('Recent audit records (this replica)', true);
    v.append(a);
    return async function () {
      await load(a, '/audit?limit=100', (x) => table(x.items, { cls: 'audit', empty: 'no write yet',
        columns: ['time', 'actor', 'access', 'action', 'outcome', 'reason', 'detail'] }));
    };
  }

  const views = { overview, policies, dlq, canary, chaos, watchdog, notifications, audit };
  let refreshView = null;

  async function whoami() {
    const r = await api('GET', '/access').catch(() => null);
    access = r && r.ok ? r.data.access : 'PUBLIC';
    const b = $('access-badge');
    b.textContent = access + (r && r.data && r.data.invalid_key ? ' (invalid key)' : '');
    if (r && r.data && r.data.actor && r.data.actor !== 'anonymous') b.textContent += ' · ' + r.data.actor;
    document.body.dataset.access = access;
  }

  // show builds the view named in the location hash.
  function show() {
    const name = (location.hash || '#overview').slice(1);
    current = views[name] ? name : 'overview';
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === current);
    const v = $('view');
    v.replaceChildren();
    v.dataset.view = current;
    $('notice').hidden = true;
    if (access === 'PUBLIC') {
      v.append(el('div', { class: 'card wide' }, el('h2', { text: 'Enter an admin key' }),
        el('p', { text: 'A viewer key shows the state; an operator key also shows the actions. The key is kept in this tab only.' })));
      refreshView = null;
      return;
    }
    refreshView = views[current](v);
  }

  async function refresh() {
    clearTimeout(timer);
    const g = ++generation;
    cycle = new Map();
    try {
      await header();
      if (refreshView) await refreshView();
      if (g === generation) {
        $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
        $('poll-error').textContent = '';
      }
    } catch (e) {
      $('poll-error').textContent = e.message;
    }
    document.body.dataset.loaded = String(g);
    timer = setTimeout(poll, POLL_MS);
  }

  function poll() {
    if (document.hidden) { timer = setTimeout(poll, POLL_MS); return; }
    refresh();
  }

  async function start() {
    await whoami();
    show();
    await refresh();
  }

  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    key = $('key-input').value.trim();
    $('key-input').value = '';
    if (key) sessionStorage.setItem('baldur.key', key);
    else sessionStorage.removeItem('baldur.key');
    start();
  });
  $('key-forget').addEventListener('click', () => {
    key = '';
    sessionStorage.removeItem('baldur.key');
    start();
  });
  window.addEventListener('hashchange', () => { show(); refresh(); });
  document.addEventListener('visibilitychange', () => { if (!document.hidden) refresh(); });
  start();
})();
