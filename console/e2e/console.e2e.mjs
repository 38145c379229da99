// The console in a real browser: Debian's Chromium driven by playwright-core, against the
// daemon tests/e2e/test_console_browser.c started and seeded (it passes the tokens and what
// the seed implies in --expect). One browser for the whole run; each step prints "ok - ...".
//
//   node e2e/console.e2e.mjs --expect FILE [--screenshots DIR] [--chromium PATH]
//
// It checks what a person sees: signing in with a token, the funnel's numbers, the failing
// connector and its error, a dead delivery replayed and seen done, a score's explanation,
// that a read-only token sees no admin action, that the keyboard alone gets around, that
// no Content-Security-Policy violation happens, and that every call the console makes is a
// documented operation with documented parameters (the bundle's calls, statically, and
// every request the browser actually sent). Screenshots of each page at 1280 and 390 px.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';
import { parse } from 'yaml';

import { checkBundle, defaultSpec, documentedOperations, operationOf } from './endpoints.mjs';

const { values: args } = parseArgs({
  options: {
    expect: { type: 'string' },
    screenshots: { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM ?? '/usr/bin/chromium' },
  },
});
if (args.expect === undefined) {
  console.error('usage: console.e2e.mjs --expect FILE [--screenshots DIR] [--chromium PATH]');
  process.exit(2);
}
const expect = JSON.parse(readFileSync(args.expect, 'utf8'));
const shots = args.screenshots;
if (shots !== undefined) {
  mkdirSync(shots, { recursive: true });
}
const console_ = `${expect.base}/console/`;
const TIMEOUT = 30_000;

let step = 'starting';
function ok(what) {
  console.log(`ok - ${what}`);
}
function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}
/** Polls `probe` until it returns true (the page settles after a load), or fails. */
async function settle(probe, message, ms = TIMEOUT) {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    check(Date.now() < deadline, message);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// --- what the console calls ----------------------------------------------------------------

step = 'the bundle calls only documented operations';
{
  const { endpoints, problems } = checkBundle();
  check(problems.length === 0, problems.join('\n'));
  ok(`${step}: ${endpoints.join(', ')}`);
}

const operations = documentedOperations();
const spec = parse(readFileSync(defaultSpec, 'utf8'));
function documentedParameters(op) {
  const [method, path] = op.split(' ');
  const resolve = (p) =>
    p.$ref ? p.$ref.split('/').reduce((node, key) => (key === '#' ? spec : node[key]), null) : p;
  const item = spec.paths[path];
  return new Set(
    [...(item.parameters ?? []), ...(item[method.toLowerCase()].parameters ?? [])]
      .map(resolve)
      .filter((p) => p.in === 'query')
      .map((p) => p.name),
  );
}
const requests = [];
const violations = [];

function watch(page) {
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith('/v1')) {
      requests.push({ method: request.method(), path: url.pathname, query: [...url.searchParams.keys()] });
    }
  });
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) {
      violations.push(message.text());
    }
  });
  page.on('pageerror', (error) => violations.push(`page error: ${error.message}`));
  return page;
}

async function shoot(page, name) {
  if (shots !== undefined) {
    const width = page.viewportSize()?.width ?? 0;
    await page.screenshot({ path: join(shots, `${name}-${width}.png`), fullPage: true });
  }
}

async function signIn(page, token) {
  await page.goto(console_);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
}

async function cellNumber(locator) {
  return Number((await locator.innerText()).replace(/[^0-9]/g, ''));
}

const browser = await chromium.launch({
  executablePath: args.chromium,
  // as root, without a sandbox; the rest keeps Chromium off a network it cannot reach
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
  ],
});
let failed = false;
try {
  const wide = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  wide.setDefaultTimeout(TIMEOUT);
  const page = watch(await wide.newPage());

  // --- signing in ------------------------------------------------------------------------
  step = 'a wrong token is refused, a good one signs in';
  await page.goto(console_);
  await shoot(page, 'sign-in');
  await page.getByLabel('API token').fill('not-a-token-of-this-hub');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'does not know this token' }).waitFor();
  await page.getByLabel('API token').fill(expect.tokens.admin);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  check((await page.evaluate(() => sessionStorage.length)) === 1, 'the token is not in session storage');
  check((await page.evaluate(() => localStorage.length)) === 0, 'something went to local storage');
  ok(step);

  // --- the overview: the funnel the seed implies, and what needs attention -------------------
  step = 'the overview shows the funnel the seed implies';
  const totals = page.getByRole('table', { name: 'Funnel totals' });
  for (const [stage, count] of Object.entries(expect.funnel)) {
    const got = await cellNumber(totals.locator(`td[data-stage="${stage}"]`));
    check(got === count, `funnel ${stage}: the page shows ${got}, the seed implies ${count}`);
  }
  const sources = page.getByRole('region', { name: 'By source' });
  await sources.getByText('Numbers').click();
  const bySource = sources.getByRole('table', { name: 'Funnel by source' });
  for (const [source, leads] of Object.entries(expect.sources)) {
    const row = bySource
      .getByRole('row')
      .filter({ has: page.getByRole('rowheader', { name: source, exact: true }) });
    const got = await cellNumber(row.getByRole('cell').first());
    check(got === leads, `source ${source}: the page shows ${got} leads, the seed implies ${leads}`);
  }
  ok(`${step}: ${JSON.stringify(expect.funnel)} by source ${JSON.stringify(expect.sources)}`);

  step = 'the overview says what needs attention';
  const attention = page.getByRole('region', { name: 'Needs attention' });
  await attention.getByText(expect.failing.name, { exact: true }).waitFor();
  await attention.getByText(`${expect.dead.count} dead deliveries to replay`).waitFor();
  await shoot(page, 'overview');
  ok(step);

  // --- connectors: the failing one and its error --------------------------------------------
  step = 'the failing connector shows its error';
  await page.getByRole('link', { name: 'Connectors', exact: true }).click();
  const table = page.getByRole('table', { name: 'Connectors' });
  const row = table
    .getByRole('row')
    .filter({ has: page.getByRole('link', { name: expect.failing.name, exact: true }) });
  await row.getByText('needs attention').waitFor();
  await row.getByText(expect.failing.error).waitFor();
  await shoot(page, 'connectors');
  await row.getByRole('link', { name: expect.failing.name, exact: true }).click();
  await page.getByRole('heading', { name: expect.failing.name, level: 1 }).waitFor();
  const lastError = await page.locator('[data-field="last-error"]').innerText();
  check(lastError.includes(expect.failing.error), `last error: "${lastError}"`);
  await page
    .getByRole('region', { name: 'Needs attention' })
    .getByText(expect.failing.code.replace(/_/g, ' '))
    .waitFor();
  await page.getByRole('button', { name: 'Sync now' }).waitFor();
  await shoot(page, 'connector');
  ok(`${step}: ${lastError}`);

  // --- OAuth consent from the console, end to end ----------------------------------------------
  step = 'an admin consents from the console, end to end';
  await page.goto(`${console_}#/connectors/${expect.consent}`);
  const consent = page.getByRole('region', { name: 'OAuth consent' });
  const grant = consent.locator('[data-field="consent-state"]');
  const before = await grant.innerText();
  check(!before.includes('granted'), `the grant is already "${before}"`);
  // the provider's page opens in a tab of its own; its "user" allows at once and the
  // provider sends that tab to the daemon's /oauth/callback, which stores the grant
  const [providerTab] = await Promise.all([
    wide.waitForEvent('page'),
    consent.getByRole('button', { name: /^(Connect|Consent again)$/ }).click(),
  ]);
  await providerTab.waitForLoadState();
  await consent.getByText('Consent stored').waitFor({ timeout: 60_000 });
  await grant.getByText('granted', { exact: true }).waitFor();
  await providerTab.close();
  await shoot(page, 'consent');
  ok(`${step}: ${before.trim()} -> granted`);

  // --- deliveries: replay a dead one and see it done ------------------------------------------
  step = 'a dead delivery is replayed and seen done';
  await page.getByRole('link', { name: 'Deliveries', exact: true }).click();
  const dead = page.getByRole('table', { name: 'dead deliveries' });
  await dead.getByRole('row').nth(expect.dead.count).waitFor();
  const replayButtons = dead.getByRole('button', { name: /^Replay delivery \d+$/ });
  check((await replayButtons.count()) === expect.dead.count, `${await replayButtons.count()} replay buttons`);
  await shoot(page, 'deliveries');
  const first = replayButtons.first();
  const id = (await first.getAttribute('aria-label')).replace(/\D/g, '');
  await first.click();
  const replayed = page.locator(`[data-delivery="${id}"]`);
  await replayed.getByText('done', { exact: true }).waitFor({ timeout: 60_000 });
  ok(`${step}: delivery ${id}`);

  step = 'replaying all that match counts them first';
  await page.getByRole('button', { name: 'Replay all matching…' }).click();
  await page.getByText(`${expect.dead.count - 1} dead delivery matches`).waitFor();
  await page.getByRole('button', { name: 'Cancel' }).click();
  ok(step);

  // --- leads: a score's explanation ----------------------------------------------------------
  step = "a lead's score explains itself";
  await page.getByRole('link', { name: 'Leads', exact: true }).click();
  await page.getByLabel('Email').fill(expect.lead.email);
  await page.getByRole('button', { name: 'Search' }).click();
  const leads = page.getByRole('table', { name: 'Leads' });
  await settle(
    async () => (await leads.getByRole('row').count()) === 2,
    'the search did not find the lead alone',
  );
  await shoot(page, 'leads');
  await leads.getByRole('link').first().click();
  const why = page.getByRole('table', { name: /^Why fit scored/ });
  const rule = why.getByRole('row').filter({ hasText: expect.lead.rule });
  await rule.waitFor();
  const ruleText = (await rule.innerText()).replace(/\s+/g, ' ');
  check(ruleText.includes(expect.lead.points), `the rule's row: ${ruleText}`);
  await page.getByRole('region', { name: 'Timeline' }).getByText('email.replied').waitFor();
  await shoot(page, 'lead');
  ok(`${step}: ${ruleText}`);

  // --- meetings -------------------------------------------------------------------------------
  step = 'the upcoming meetings list the booked one';
  await page.getByRole('link', { name: 'Meetings', exact: true }).click();
  await page.getByRole('table', { name: 'Upcoming meetings' }).getByText(expect.meeting).waitFor();
  await shoot(page, 'meetings');
  ok(step);

  // --- the keyboard alone --------------------------------------------------------------------
  step = 'the keyboard reaches every section';
  await page.goto(`${console_}#/`);
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  await page.evaluate(() =>
    document.activeElement instanceof HTMLElement ? document.activeElement.blur() : undefined,
  );
  let reached = false;
  for (let i = 0; i < 12 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.textContent === 'Deliveries');
  }
  check(reached, 'Tab never reached the Deliveries link');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Deliveries', level: 1 }).waitFor();
  // navigating moves the focus to the page (after it renders), so Tab goes on from there
  await settle(
    () => page.evaluate(() => document.activeElement?.id === 'main'),
    'the focus did not move to the page after navigating',
  );
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement?.id);
  check(focused === 'd-status', `after the page, Tab goes to ${focused}, not the first filter`);
  ok(step);

  // --- signing out --------------------------------------------------------------------------
  step = 'signing out forgets the token';
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('API token').waitFor();
  check((await page.evaluate(() => sessionStorage.length)) === 0, 'the token stayed in session storage');
  ok(step);

  // --- a read-only token ---------------------------------------------------------------------
  step = 'a read-only token sees no admin action';
  await signIn(page, expect.tokens.read);
  await page.getByText('viewer (read-only)').waitFor();
  await page.goto(`${console_}#/connectors/${expect.failing.name}`);
  await page.getByText('actions need the admin scope').waitFor();
  check((await page.getByRole('button', { name: 'Sync now' }).count()) === 0, 'Sync now is offered');
  await page.goto(`${console_}#/deliveries?status=dead`);
  await page.getByRole('table', { name: 'dead deliveries' }).waitFor();
  check((await page.getByRole('button', { name: /Replay/ }).count()) === 0, 'a replay is offered');
  check(
    (await page.getByRole('columnheader', { name: 'Action' }).count()) === 0,
    'an action column is shown',
  );
  ok(step);
  await wide.close();

  // --- a phone --------------------------------------------------------------------------------
  step = 'every page fits a phone';
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
    isMobile: true,
    hasTouch: true,
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  phone.setDefaultTimeout(TIMEOUT);
  const small = watch(await phone.newPage());
  await small.goto(console_);
  await shoot(small, 'sign-in');
  await signIn(small, expect.tokens.admin);
  const pages = [
    ['overview', '#/', 'Overview'],
    ['connectors', '#/connectors', 'Connectors'],
    ['connector', `#/connectors/${expect.failing.name}`, expect.failing.name],
    ['deliveries', '#/deliveries?status=dead', 'Deliveries'],
    ['leads', `#/leads?email=${encodeURIComponent(expect.lead.email)}`, 'Leads'],
    ['meetings', '#/meetings', 'Meetings'],
  ];
  for (const [name, hash, heading] of pages) {
    await small.goto(`${console_}${hash}`);
    await small.getByRole('heading', { name: heading, level: 1 }).waitFor();
    await small.waitForLoadState('networkidle');
    // the page itself never scrolls sideways; wide tables scroll in their own box
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `${name} is ${overflow}px wider than the phone`);
    await shoot(small, name);
  }
  await small.goto(`${console_}#/leads?email=${encodeURIComponent(expect.lead.email)}`);
  await small.getByRole('table', { name: 'Leads' }).getByRole('link').first().click();
  await small.getByRole('region', { name: 'Timeline' }).getByText('email.replied').waitFor();
  await shoot(small, 'lead');
  ok(step);
  await phone.close();

  // --- what the browser sent -----------------------------------------------------------------
  step = 'every request the browser sent is a documented operation';
  check(requests.length > 0, 'no request to /v1 was seen');
  const problems = [];
  const seen = new Set();
  for (const r of requests) {
    const op = operationOf(operations, r.method, r.path);
    if (op === null) {
      problems.push(`${r.method} ${r.path} is not documented`);
      continue;
    }
    seen.add(op);
    const allowed = documentedParameters(op);
    for (const q of r.query.filter((name) => !allowed.has(name))) {
      problems.push(`${op}: parameter "${q}" is not documented`);
    }
  }
  check(problems.length === 0, [...new Set(problems)].join('\n'));
  ok(`${step}: ${requests.length} requests, ${seen.size} operations`);

  step = 'no Content-Security-Policy violation and no page error';
  check(violations.length === 0, violations.join('\n'));
  ok(step);
} catch (error) {
  failed = true;
  console.error(`not ok - ${step}\n${error instanceof Error ? (error.stack ?? error.message) : error}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
