// The queue page (GET /ui/) in a real browser: Debian's Chromium driven by playwright-core, against the
// payhookd, Redis and app that tests/integration/daemon/ui_browser_test.cpp started and seeded. Exits 0 when
// every step held, 1 with the failed step on stderr otherwise.
//
// Environment: PAYHOOK_ADMIN_URL (http://host:port of the admin listener), PAYHOOK_ADMIN_TOKEN,
// PAYHOOK_UI_EVENT (an event delivered), PAYHOOK_UI_KEY (its provider key), PAYHOOK_UI_ORDER (an order
// number in its data), PAYHOOK_UI_ROUTE (its route), PAYHOOK_UI_XSS (an event whose payload holds markup),
// PAYHOOK_UI_DEAD (a dead event whose target now succeeds), PAYHOOK_UI_TARGETS (comma list),
// PAYHOOK_UI_SCREENSHOTS (a folder), CHROMIUM (default /usr/bin/chromium).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {chromium} from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`ui_browser: ${name} is not set`);
    process.exit(2);
  }
  return v;
};
const base = env('PAYHOOK_ADMIN_URL');
const token = env('PAYHOOK_ADMIN_TOKEN');
const eventId = env('PAYHOOK_UI_EVENT');
const key = env('PAYHOOK_UI_KEY');
const order = env('PAYHOOK_UI_ORDER');
const routeName = env('PAYHOOK_UI_ROUTE');
const xssId = env('PAYHOOK_UI_XSS');
const deadId = env('PAYHOOK_UI_DEAD');
const targets = env('PAYHOOK_UI_TARGETS').split(',');
const shots = env('PAYHOOK_UI_SCREENSHOTS');

// The machine has no outside network: without these Chromium waits on updates, sync and QUIC probes.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let step = 'start';
function check(cond, message) {
  if (!cond) throw new Error(message);
}

// A whole run is bounded, whatever Chromium does.
const watchdog = setTimeout(() => {
  console.error(`ui_browser: timed out at step "${step}"`);
  process.exit(1);
}, 60_000);

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'payhook-ui-'));
fs.mkdirSync(shots, {recursive: true});
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: CHROMIUM_ARGS,
  viewport: {width: 1280, height: 800},
});
const dialogs = [];
const problems = [];
let exitCode = 0;
try {
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // A refused sign-in logs its 401; what matters is a script error or a CSP violation.
    if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  const sessionCookie = async () => (await context.cookies(base)).find((c) => c.name === 'payhook_session');

  step = 'a wrong token is refused';
  await page.goto(`${base}/ui/`);
  await page.locator('#signin').waitFor({state: 'visible'});
  await page.fill('#token', 'not-the-admin-token');
  await page.click('#signin-form button[type=submit]');
  await page.locator('#signin-error').waitFor({state: 'visible'});
  check(/wrong token/i.test(await page.textContent('#signin-error')), 'no "wrong token" message');
  check(await page.isVisible('#signin') && !(await page.isVisible('#overview')), 'left the sign-in');
  check(!(await sessionCookie()), 'a cookie was set for a wrong token');

  step = 'sign in';
  await page.fill('#token', token);
  await page.click('#signin-form button[type=submit]');
  await page.locator('#overview').waitFor({state: 'visible'});
  const cookie = await sessionCookie();
  check(cookie, 'no session cookie');
  check(cookie.httpOnly && cookie.sameSite === 'Strict' && cookie.path === '/', `cookie ${JSON.stringify(cookie)}`);
  check(!(await page.evaluate(() => document.cookie)).includes('payhook_session'), 'the cookie is readable');

  step = 'the overview shows the targets';
  for (const t of targets) await page.locator(`#targets tr[data-target="${t}"]`).waitFor();
  await page.waitForFunction(() => document.getElementById('rate-callbacks').textContent !== '…');
  check((await page.textContent('#redis-status')).includes('ready'), 'redis is not shown ready');
  const deadRow = await page.textContent(`#targets tr[data-target="${targets[targets.length - 1]}"]`);
  check(/closed|open|half_open/.test(deadRow), `no breaker state in "${deadRow}"`);
  await page.screenshot({path: path.join(shots, 'overview.png')});

  step = 'search the provider key';
  await page.click('#nav-events');
  await page.locator('#events').waitFor({state: 'visible'});
  await page.locator(`#events-table tr[data-id="${eventId}"]`).waitFor();
  // The list's rows carry `key` once the API searches by it: only then can the search narrow anything.
  const rowsHaveKey = await page.evaluate(async () => {
    const res = await fetch('/v1/events?limit=5');
    return (await res.json()).events.some((e) => 'key' in e);
  });
  await page.fill('#f-key', key);
  await page.click('#f-search');
  if (rowsHaveKey) {
    await page.waitForFunction((id) => {
      const rows = [...document.querySelectorAll('#events-table tbody tr[data-id]')];
      return rows.length > 0 && rows.every((r) => r.dataset.id === id);
    }, eventId);
    check((await page.textContent(`#events-table tr[data-id="${eventId}"] td.key`)).includes(key),
      'the key is not shown in its row');
    console.log(`ui_browser: the search for ${key} found its event alone`);
  } else {
    await page.locator(`#events-table tr[data-id="${eventId}"]`).waitFor();
    console.log('ui_browser: rows carry no key yet: the search was sent, the list filter checked instead');
  }
  step = 'filter by route and state';
  await page.click('#f-clear');
  await page.fill('#f-route', routeName);
  await page.selectOption('#f-state', 'all');
  await page.click('#f-apply');
  await page.locator(`#events-table tr[data-id="${eventId}"]`).waitFor();
  await page.selectOption('#f-state', 'dead');
  await page.fill('#f-route', '');
  await page.click('#f-apply');
  await page.locator(`#events-table tr[data-id="${deadId}"]`).waitFor();
  check(!(await page.isVisible(`#events-table tr[data-id="${eventId}"]`)), 'a delivered event among the dead');
  await page.selectOption('#f-state', 'all');
  await page.click('#f-apply');
  await page.locator(`#events-table tr[data-id="${eventId}"]`).waitFor();

  step = 'page through the events';
  const rowIds = () => page.$$eval('#events-table tbody tr[data-id]', (rows) => rows.map((r) => r.dataset.id));
  const rowCount = (n) => page.waitForFunction(
    (want) => document.querySelectorAll('#events-table tbody tr[data-id]').length === want, n);
  await page.selectOption('#f-limit', '10');
  await page.click('#f-apply');
  await rowCount(10);
  check(!(await page.isDisabled('#next-page')), 'no next page after ten of twelve events');
  const firstPage = await rowIds();
  await page.click('#next-page');
  await rowCount(2);
  const secondPage = await rowIds();
  check(secondPage.every((id) => !firstPage.includes(id)), 'the second page repeats the first');
  check(await page.isDisabled('#next-page'), 'a next page after the last');
  await page.click('#first-page');
  await rowCount(10);
  await page.selectOption('#f-limit', '50');
  await page.click('#f-apply');
  await rowCount(12);
  await page.screenshot({path: path.join(shots, 'events.png')});

  step = 'open the event';
  await page.click(`#events-table tr[data-id="${eventId}"] a.open`);
  await page.locator('#event').waitFor({state: 'visible'});
  await page.waitForFunction((id) => document.getElementById('ev-id').textContent === id, eventId);
  await page.waitForFunction(() => document.getElementById('ev-data').textContent.length > 0);
  check((await page.textContent('#ev-data')).includes(order), 'the order is not in the data');
  const raw = await page.textContent('#ev-raw');
  check(raw.includes('POST') && raw.includes('application/json'), `raw request: ${raw}`);
  check((await page.textContent('#ev-raw-body')).includes(order), 'the raw body is not shown');
  const attempts = await page.locator('#ev-attempts tbody tr').count();
  check(attempts >= 1 && (await page.textContent('#ev-attempts tbody')).includes('200'), 'no attempt shown');
  check((await page.textContent('#ev-targets tbody')).includes('delivered'), 'target state not shown');

  step = 'a payload holding markup stays text';
  await page.goto(`${base}/ui/#event/${encodeURIComponent(xssId)}`);
  await page.waitForFunction((id) => document.getElementById('ev-id').textContent === id, xssId);
  await page.waitForFunction(() => document.getElementById('ev-data').textContent.includes('__xss'));
  const data = await page.textContent('#ev-data');
  check(data.includes('<script>window.__xss=1</script>'), 'the script text is not shown as text');
  check(data.includes('<img src=x onerror='), 'the img text is not shown as text');
  check(await page.evaluate(() => document.querySelectorAll('img').length) === 0, 'an img element was made');
  check(await page.evaluate(() => document.scripts.length) === 1, 'a script element was made');
  await page.click('#nav-events');
  await page.locator(`#events-table tr[data-id="${xssId}"]`).waitFor();

  step = 'retry the dead event, cancelled then confirmed';
  await page.goto(`${base}/ui/#event/${encodeURIComponent(deadId)}`);
  await page.waitForFunction((id) => document.getElementById('ev-id').textContent === id, deadId);
  await page.locator('#ev-summary .state.dead').waitFor();
  await page.click('#ev-retry');
  await page.locator('#confirm').waitFor({state: 'visible'});
  await page.click('#confirm-cancel');
  await page.locator('#confirm').waitFor({state: 'hidden'});
  await page.waitForTimeout(300);
  await page.locator('#ev-summary .state.dead').waitFor();
  await page.click('#ev-retry');
  await page.locator('#confirm').waitFor({state: 'visible'});
  check((await page.textContent('#confirm-text')).includes(deadId), 'the confirmation names no event');
  await page.click('#confirm-ok');
  await page.locator('#ev-summary .state.delivered').waitFor({timeout: 20_000});
  check((await page.textContent('#ev-result')).includes('Retried'), 'no "Retried" shown');
  await page.waitForFunction(() => document.querySelectorAll('#ev-attempts tbody tr').length === 2);
  await page.screenshot({path: path.join(shots, 'event.png')});

  step = 'nothing ran';
  check(await page.evaluate(() => window.__xss) === undefined, 'window.__xss was set');
  check(dialogs.length === 0, `dialogs fired: ${dialogs.join('; ')}`);
  check(problems.length === 0, problems.join('\n'));

  step = 'sign out';
  await page.goto(`${base}/ui/#overview`);
  await page.locator('#overview').waitFor({state: 'visible'});
  await page.click('#signout');
  await page.locator('#signin').waitFor({state: 'visible'});
  check(!(await sessionCookie()), 'the cookie outlived the sign-out');
  const after = await context.request.get(`${base}/v1/stats`,
    {headers: {cookie: `payhook_session=${cookie.value}`}});
  check(after.status() === 401, `/v1/stats with the ended session: ${after.status()}`);
  console.log('ui_browser: every step held');
} catch (e) {
  console.error(`ui_browser: step "${step}" failed: ${e.message}`);
  if (problems.length) console.error(problems.join('\n'));
  try {
    const page = context.pages()[0];
    if (page) await page.screenshot({path: path.join(shots, 'failure.png')});
  } catch (ignored) {
    // The screenshot is a help, not a step.
  }
  exitCode = 1;
} finally {
  await context.close();
  fs.rmSync(profile, {recursive: true, force: true});
  clearTimeout(watchdog);
}
process.exit(exitCode);
