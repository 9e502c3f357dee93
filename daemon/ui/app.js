// The queue page: plain JavaScript over the admin listener's /v1 API, no framework and no build step.
// Every value that comes from a callback (and from Redis generally) reaches the page through textContent or
// createElement, never as markup, so a payload holding HTML stays text.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const OVERVIEW_EVERY_MS = 4000;
  const FINAL_STATES = new Set(['delivered', 'dead', 'stored']);

  let csrf = '';
  let overviewTimer = 0;
  let eventsCursor = '';     // the page shown
  let eventsNext = '';       // its next_cursor

  // An element with text children only: el('td', {className: 'num'}, 42).
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'className') node.className = v;
      else if (k === 'title') node.title = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(text(c)));
    return node;
  }

  // Anything as display text: absent values blank, objects as JSON.
  function text(v) {
    if (v === undefined || v === null) return '';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  function badge(value) {
    const span = el('span', {className: 'state'}, value);
    if (/^[a-z_]+$/.test(String(value))) span.classList.add(String(value));
    return span;
  }

  // "2026-12-05T17:08:50.990Z" as "2026-12-05 17:08:50" (UTC, as the API gives it); anything else as it is.
  function shortTime(v) {
    const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(text(v));
    return m ? m[1] + ' ' + m[2] : text(v);
  }

  function timeText(v) {
    if (typeof v === 'number' && v > 0) return new Date(v).toISOString();
    return text(v);
  }

  class SignedOut extends Error {}

  async function api(method, path, body) {
    const headers = {};
    const init = {method, headers, credentials: 'same-origin', cache: 'no-store'};
    if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    let data = null;
    try {
      data = await res.json();
    } catch (e) {
      data = null;
    }
    if (res.status === 401 && !path.startsWith('/ui/login')) {
      showSignin('');
      throw new SignedOut('signed out');
    }
    return {status: res.status, data: data || {}};
  }

  // An in-page confirmation; resolves true when the operator confirms.
  function confirmAction(message) {
    const dialog = $('confirm');
    $('confirm-text').textContent = message;
    dialog.returnValue = '';
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), {once: true});
      dialog.showModal();
    });
  }

  // ---- sign-in ----

  function showSignin(message) {
    csrf = '';
    clearInterval(overviewTimer);
    overviewTimer = 0;
    for (const id of ['overview', 'events', 'event', 'nav', 'signout']) $(id).hidden = true;
    $('signin').hidden = false;
    $('signin-error').hidden = !message;
    $('signin-error').textContent = message || '';
    $('token').focus();
  }

  function showApp() {
    $('signin').hidden = true;
    $('nav').hidden = false;
    $('signout').hidden = false;
    route();
  }

  async function signIn(ev) {
    ev.preventDefault();
    const token = $('token').value;
    const res = await api('POST', '/ui/login', {token});
    if (res.status === 200 && res.data.signed_in) {
      csrf = res.data.csrf;
      $('token').value = '';
      showApp();
      return;
    }
    showSignin(res.status === 401 ? 'Wrong token.'
      : res.status === 429 ? 'Too many failed sign-ins: wait a minute.'
        : 'Sign-in failed: ' + text(res.data.error || res.status));
  }

  async function signOut() {
    try {
      await api('POST', '/ui/logout');
    } catch (e) {
      // Signed out either way.
    }
    location.hash = '';
    showSignin('');
  }

  // ---- views ----

  function route() {
    if (!csrf) return;
    const hash = location.hash.replace(/^#/, '');
    const view = hash.startsWith('event/') ? 'event' : hash === 'events' ? 'events' : 'overview';
    for (const id of ['overview', 'events', 'event']) $(id).hidden = id !== view;
    $('nav-overview').classList.toggle('current', view === 'overview');
    $('nav-events').classList.toggle('current', view !== 'overview');
    clearInterval(overviewTimer);
    overviewTimer = 0;
    if (view === 'overview') {
      refreshOverview();
      overviewTimer = setInterval(refreshOverview, OVERVIEW_EVERY_MS);
    } else if (view === 'events') {
      loadEvents(eventsCursor);
    } else {
      showEvent(decodeURIComponent(hash.slice('event/'.length)));
    }
  }

  // ---- overview ----

  async function refreshOverview() {
    let stats, live;
    try {
      [stats, live] = await Promise.all([api('GET', '/v1/stats'), api('GET', '/v1/live')]);
    } catch (e) {
      if (!(e instanceof SignedOut)) $('overview-updated').textContent = 'Not updated: ' + e.message;
      return;
    }
    const s = stats.data, l = live.data;
    const redis = l.redis || {};
    const status = $('redis-status');
    status.replaceChildren(badge(redis.ready ? 'ready' : 'down'));
    if (!redis.ready && redis.reason) status.append(' ', redis.reason);
    if (stats.status !== 200) status.append(' ', text(s.error));
    if (typeof s.redis_used_memory === 'number')
      status.append(el('br'), el('span', {className: 'note'}, 'memory ' + mib(s.redis_used_memory) +
        (s.redis_maxmemory ? ' of ' + mib(s.redis_maxmemory) : '')));
    const pm = l.per_minute || {};
    // In its first minute payhookd has less than a minute to count: the page shows what it counted so far
    // rather than a rate scaled up from a few seconds.
    const counted = l.counted || {};
    const warming = pm.warming_up && typeof pm.window_s === 'number';
    $('rate-callbacks').textContent = text(warming ? counted.callbacks : pm.callbacks);
    $('rate-deliveries').textContent = text(warming ? counted.deliveries : pm.deliveries);
    $('rate-failed').textContent = text(warming ? counted.failed_deliveries : pm.failed_deliveries);
    $('rate-note').textContent = warming
      ? 'Warming up: counted over the ' + pm.window_s + ' s since payhookd started, not yet a minute.'
      : 'Per minute over the last ' + text(pm.window_s) + ' s, from this payhookd.';
    $('events-total').textContent = text(s.events);
    $('events-dead').textContent = s.dead ? plural(s.dead, 'dead job') : 'no dead job';

    const rows = new Map();
    const row = (name) => {
      if (!rows.has(name)) rows.set(name, {name});
      return rows.get(name);
    };
    for (const t of s.targets || []) Object.assign(row(t.name), {due: t.due, overdue: t.overdue, dead: t.dead});
    for (const t of l.targets || []) Object.assign(row(t.name), {in_flight: t.in_flight, breaker: t.breaker});
    const body = $('targets').tBodies[0];
    body.replaceChildren();
    for (const name of [...rows.keys()].sort()) {
      const r = rows.get(name);
      body.append(el('tr', {'data-target': name},
        el('td', {}, name),
        el('td', {className: 'num'}, r.due ?? 0),
        el('td', {className: 'num'}, r.overdue ?? 0),
        el('td', {className: 'num'}, r.in_flight ?? 0),
        el('td', {className: 'num'}, r.dead ?? 0),
        el('td', {}, r.breaker ? badge(r.breaker) : '')));
    }
    if (!rows.size) body.append(el('tr', {}, el('td', {colspan: '6', className: 'note'}, 'No targets yet.')));
    $('overview-updated').textContent = 'Updated ' + new Date().toLocaleTimeString() + ', every ' +
      OVERVIEW_EVERY_MS / 1000 + ' s.';
    await refreshExpected();
  }

  // Expected orders (README "Expected payments"): the counts, and those given up without a final status.
  async function refreshExpected() {
    let res;
    try {
      res = await api('GET', '/v1/expected?state=dead&limit=50');
    } catch (e) {
      return;
    }
    const body = $('expected-dead-table').tBodies[0];
    body.replaceChildren();
    if (res.status !== 200) {
      $('expected-open').textContent = '-';
      return;
    }
    const x = res.data;
    $('expected-open').textContent = text(x.open);
    $('expected-dead').textContent = x.dead ? plural(x.dead, 'given up') : 'none given up';
    for (const e of x.expected || [])
      body.append(el('tr', {'data-order': e.order},
        el('td', {}, e.route), el('td', {}, e.order), el('td', {}, e.amount ?? ''), el('td', {}, e.deadline),
        el('td', {className: 'num'}, e.polls), el('td', {}, e.last_status), el('td', {}, e.reason ?? '')));
    if (!(x.expected || []).length)
      body.append(el('tr', {}, el('td', {colspan: '7', className: 'note'}, 'None.')));
  }

  function plural(n, noun) {
    return n + ' ' + noun + (n === 1 ? '' : 's');
  }

  function mib(bytes) {
    return (bytes / 1048576).toFixed(1) + ' MiB';
  }

  async function deadAction(kind) {
    const route = $('dead-route').value.trim();
    const older = $('dead-older').value.trim();
    const scope = route ? 'of route ' + route : 'of every route';
    const ok = await confirmAction(kind === 'retry'
      ? 'Retry every dead job ' + scope + '?'
      : 'Delete every dead event ' + scope + (older ? ' older than ' + older : '') + '? This cannot be undone.');
    if (!ok) return;
    const body = {};
    if (route) body.route = route;
    if (kind === 'purge' && older) body.older_than = older;
    try {
      const res = await api('POST', kind === 'retry' ? '/v1/dead/retry' : '/v1/dead/purge', body);
      $('dead-result').textContent = res.status !== 200 ? 'Refused: ' + text(res.data.error)
        : kind === 'retry' ? 'Retried ' + plural(res.data.retried, 'dead job') + '.'
          : 'Purged ' + plural(res.data.purged, 'event') + ' (' + res.data.skipped + ' still being delivered, kept).';
    } catch (e) {
      if (!(e instanceof SignedOut)) $('dead-result').textContent = 'Failed: ' + e.message;
      return;
    }
    refreshOverview();
  }

  // ---- events ----

  function isoOf(local) {
    if (!local) return '';
    const d = new Date(local);
    return isNaN(d) ? '' : d.toISOString();
  }

  function eventsQuery(cursor) {
    const q = new URLSearchParams();
    const key = $('f-key').value.trim();
    const route = $('f-route').value.trim();
    if (key) {
      q.set('key', key);
      if (route) q.set('route', route);
    } else {
      if ($('f-state').value !== 'all') q.set('state', $('f-state').value);
      if (route) q.set('route', route);
      const since = isoOf($('f-since').value), until = isoOf($('f-until').value);
      if (since) q.set('since', since);
      if (until) q.set('until', until);
    }
    q.set('limit', $('f-limit').value);
    if (cursor) q.set('cursor', cursor);
    return '/v1/events?' + q.toString();
  }

  async function loadEvents(cursor) {
    let res;
    try {
      res = await api('GET', eventsQuery(cursor));
    } catch (e) {
      if (!(e instanceof SignedOut)) showEventsError('Could not load events: ' + e.message);
      return;
    }
    if (res.status !== 200) {
      showEventsError(text(res.data.error || 'HTTP ' + res.status));
      return;
    }
    showEventsError('');
    eventsCursor = cursor || '';
    eventsNext = res.data.next_cursor || '';
    $('next-page').disabled = !eventsNext;
    const body = $('events-table').tBodies[0];
    body.replaceChildren();
    for (const e of res.data.events || []) body.append(eventRow(e));
    if (!(res.data.events || []).length)
      body.append(el('tr', {}, el('td', {colspan: '11', className: 'note'}, 'No events match.')));
  }

  function showEventsError(message) {
    $('events-error').hidden = !message;
    $('events-error').textContent = message;
  }

  function eventRow(e) {
    const link = el('a', {className: 'open', href: '#event/' + encodeURIComponent(text(e.id))}, e.id);
    const targets = el('td', {className: 'nowrap'});
    for (const t of e.targets || []) {
      if (targets.childNodes.length) targets.append(el('br'));
      targets.append(text(t.name) + ': ', badge(t.status));
    }
    if (e.dead_target) targets.append(el('br'), el('span', {className: 'note'}, 'dead: ' + text(e.dead_target)));
    const payment = (e.data && e.data.payment) || {};
    return el('tr', {'data-id': text(e.id)},
      el('td', {className: 'id'}, link),
      el('td', {className: 'nowrap', title: text(e.received_at)}, shortTime(e.received_at)),
      el('td', {}, e.route),
      el('td', {}, e.provider),
      el('td', {}, e.type),
      el('td', {}, badge(e.state)),
      targets,
      el('td', {className: 'key'}, e.key),
      el('td', {className: 'num'}, e.amount ?? payment.amount),
      el('td', {}, e.currency ?? payment.currency),
      el('td', {}, e.status));
  }

  // ---- one event ----

  let eventPoll = 0;

  async function showEvent(id, quiet) {
    clearTimeout(eventPoll);
    let res;
    try {
      res = await api('GET', '/v1/events/' + encodeURIComponent(id));
    } catch (e) {
      if (!(e instanceof SignedOut)) $('ev-result').textContent = 'Could not load: ' + e.message;
      return;
    }
    $('ev-id').textContent = id;
    if (!quiet) $('ev-result').textContent = '';
    if (res.status !== 200) {
      $('ev-summary').replaceChildren(el('dt', {}, 'error'), el('dd', {}, res.status === 404 ? 'no such event'
        : text(res.data.error || 'HTTP ' + res.status)));
      for (const t of ['ev-targets', 'ev-attempts']) $(t).tBodies[0].replaceChildren();
      for (const p of ['ev-data', 'ev-raw-body']) $(p).textContent = '';
      $('ev-raw').replaceChildren();
      return;
    }
    renderEvent(res.data);
    return res.data;
  }

  function definitions(dl, pairs) {
    dl.replaceChildren();
    for (const [k, v] of pairs) {
      if (v === undefined || v === null || v === '') continue;
      dl.append(el('dt', {}, k), el('dd', {}, v instanceof Node ? v : text(v)));
    }
  }

  function renderEvent(e) {
    definitions($('ev-summary'), [
      ['state', badge(e.state)], ['received', e.received_at], ['route', e.route], ['provider', e.provider],
      ['type', e.type], ['verified', e.verified ? 'yes' : 'no'], ['provider key', e.idempotency_key],
      ['key', e.key === e.idempotency_key ? undefined : e.key], ['amount', e.amount], ['currency', e.currency], ['status', e.status],
      ['decision', e.decision], ['damaged', e.damaged ? 'yes: stored parts do not decode' : undefined]]);
    const targets = $('ev-targets').tBodies[0];
    targets.replaceChildren();
    for (const t of e.targets || []) {
      targets.append(el('tr', {'data-target': text(t.name)},
        el('td', {}, t.name), el('td', {}, badge(t.status)), el('td', {className: 'num'}, t.attempts),
        el('td', {}, t.due_at || t.lease_until || t.dead_at || ''), el('td', {}, t.reason)));
    }
    const attempts = $('ev-attempts').tBodies[0];
    attempts.replaceChildren();
    (e.attempts || []).forEach((a, i) => {
      const r = typeof a === 'object' && a !== null ? a : {error: a};
      attempts.append(el('tr', {},
        el('td', {className: 'num'}, i + 1), el('td', {}, timeText(r.at)), el('td', {}, r.target),
        el('td', {className: 'num'}, r.status), el('td', {className: 'num'},
          typeof r.latency_ms === 'number' ? r.latency_ms.toFixed(1) + ' ms' : text(r.latency_ms)),
        el('td', {}, r.result ? badge(r.result) : ''), el('td', {}, r.error || r.reason),
        el('td', {className: 'note'}, text(r.answer_head).slice(0, 300))));
    });
    if (!(e.attempts || []).length)
      attempts.append(el('tr', {}, el('td', {colspan: '8', className: 'note'}, 'No attempt yet.')));
    $('ev-data').textContent = typeof e.data === 'string' ? e.data : JSON.stringify(e.data, null, 2);
    const raw = e.raw || {};
    definitions($('ev-raw'), [['method', raw.method], ['path', raw.path], ['query', raw.query],
      ['content type', raw.content_type]]);
    $('ev-raw-body').textContent = text(raw.body);
  }

  async function eventAction(kind) {
    const id = $('ev-id').textContent;
    const ok = await confirmAction(kind === 'retry'
      ? 'Retry event ' + id + ' now? Dead targets get a fresh schedule.'
      : 'Replay event ' + id + '? Every target that received it gets it again.');
    if (!ok) return;
    let res;
    try {
      res = await api('POST', '/v1/events/' + encodeURIComponent(id) + '/' + kind);
    } catch (e) {
      if (!(e instanceof SignedOut)) $('ev-result').textContent = 'Failed: ' + e.message;
      return;
    }
    const verb = kind === 'retry' ? 'Retried' : 'Replayed';
    $('ev-result').textContent = res.status === 200 ? verb + '.'
      : res.status === 409 ? 'Nothing to ' + kind + ' (' + text(res.data.results ? res.data.results[0].result
        : res.data.result) + ').'
        : 'Refused: ' + text(res.data.error || res.status);
    followEvent(id, 0);
  }

  // After an action, the event is read again every second until it settles (or 30 s).
  async function followEvent(id, round) {
    const e = await showEvent(id, true);
    if (!e || FINAL_STATES.has(e.state) || round >= 30 || $('event').hidden) return;
    eventPoll = setTimeout(() => followEvent(id, round + 1), 1000);
  }

  // ---- start ----

  document.addEventListener('DOMContentLoaded', async () => {
    $('signin-form').addEventListener('submit', (ev) => signIn(ev).catch((e) => showSignin(e.message)));
    $('signout').addEventListener('click', signOut);
    window.addEventListener('hashchange', route);
    $('filters').addEventListener('submit', (ev) => {
      ev.preventDefault();
      $('f-key').value = '';
      loadEvents('');
    });
    $('search').addEventListener('submit', (ev) => {
      ev.preventDefault();
      loadEvents('');
    });
    $('f-clear').addEventListener('click', () => {
      $('f-key').value = '';
      loadEvents('');
    });
    $('next-page').addEventListener('click', () => {
      if (!eventsNext) return;
      loadEvents(eventsNext);
    });
    $('first-page').addEventListener('click', () => {
      loadEvents('');
    });
    $('ev-retry').addEventListener('click', () => eventAction('retry'));
    $('ev-replay').addEventListener('click', () => eventAction('replay'));
    $('dead-retry').addEventListener('click', () => deadAction('retry'));
    $('dead-purge').addEventListener('click', () => deadAction('purge'));
    try {
      const res = await api('GET', '/ui/session');
      if (res.data.signed_in) {
        csrf = res.data.csrf;
        showApp();
        return;
      }
    } catch (e) {
      // Shown as signed out.
    }
    showSignin('');
  });
})();
