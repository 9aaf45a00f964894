import { test, expect, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { WebSocket } from 'ws';
import { startGui, startSshd, tempHome } from './support.js';

/**
 * The app in Debian's Chromium through `vlx gui` (the browser bridge), with the real services: every
 * screen is opened and photographed (test-results/screenshots/), and the Connect screen's
 * first-contact flow runs against a real sshd. The cluster added here is a bare sshd with no
 * database: the screens that need one must say exactly that (an error state is not a render,
 * so each is checked for its own message, never accepted as "something showed").
 */
const shots = join(process.cwd(), 'test-results', 'screenshots');
mkdirSync(shots, { recursive: true });

const home = tempHome();

let bridge: Awaited<ReturnType<typeof startGui>>;
let sshd: Awaited<ReturnType<typeof startSshd>>;
// The name `vlx cluster add` gives a node learned from its hostname alone.
const nodeName = (() => { const h = hostname().split('.')[0]!.toLowerCase().replace(/[^a-z0-9-]/g, '-'); return /^[a-z][a-z0-9-]{0,31}$/.test(h) ? h : 'node1'; })();

test.beforeAll(async () => {
  sshd = await startSshd(home.dir);
  bridge = await startGui(join(home.dir, 'app'));
});

test.afterAll(async () => {
  await bridge?.stop();
  sshd?.stop();
  home.cleanup();
});

async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}

async function open(page: Page, screen: string) {
  await page.locator(`button.nav[data-screen="${screen}"]`).click();
  await expect(page.locator('.screen-head h1, .screen-consoles .tabs').first()).toBeVisible();
}

/** The one honest state of a screen whose data lives in a cluster database that "edge" does not have. */
async function expectNoDatabase(page: Page) {
  const err = page.locator('.state-error');
  await expect(err).toContainText('cluster "edge" has no database yet');
  await expect(err).toContainText('Deploy it on the Nodes screen');
  await expect(err).not.toContainText('vlx ');
}

test('every screen renders, and a cluster is added after its host key is confirmed', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${m.text()} (${m.location().url})`); });

  await page.goto(bridge.url);
  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:\d+\/(#.*)?$/); // the token left the address bar
  await expect(page.getByRole('heading', { name: 'Connect', exact: true })).toBeVisible();
  await expect(page.locator('.link-open')).toBeVisible();
  await expect(page.getByText('No clusters yet')).toBeVisible();
  await shot(page, '01-connect-empty');

  await page.locator('#c-name').fill('Bad Name');
  await expect(page.getByText('a lowercase letter, then lowercase letters')).toBeVisible();
  await page.locator('#c-name').fill('edge');
  await page.locator('#c-address').fill('127.0.0.1');
  await page.locator('#c-port').fill(String(sshd.port));
  await page.locator('#c-key').fill(sshd.clientKey);
  await page.getByRole('button', { name: 'Check host key' }).click();
  await expect(page.getByTestId('fingerprint')).toHaveText(sshd.fingerprint);
  await expect(page.getByText('First contact with 127.0.0.1')).toBeVisible();
  await shot(page, '02-connect-hostkey');
  await page.getByRole('button', { name: 'Trust and connect' }).click();
  await expect(page.getByText('Added cluster')).toBeVisible();
  await expect(page.locator('tr.row-current')).toContainText('edge');
  await expect(page.locator('.statusbar')).toContainText('Cluster: edge');
  await shot(page, '03-connect-added');

  // The node was learned over SSH: its lane is there, named by its hostname.
  await open(page, 'topology');
  const lane = page.locator(`.lane[data-node="${nodeName}"]`);
  await expect(lane).toBeVisible();
  await expect(lane).toContainText('127.0.0.1');
  await shot(page, '04-topology');

  await open(page, 'vcs');
  await expectNoDatabase(page);
  await shot(page, '05-vcs');
  await page.getByRole('button', { name: 'New virtual cluster' }).click();
  await page.locator('#w-name').fill('web;rm');
  await expect(page.locator('#w-name-err')).toContainText('must be 1-24 chars');
  await page.locator('#w-nodes').fill('0');
  await expect(page.locator('#w-nodes-err')).toContainText('must be a whole number from 1 to 256');
  await page.locator('#w-subnet').fill('10.77.0.0/24');
  await shot(page, '06-vc-wizard-invalid');
  await page.locator('#w-name').fill('web');
  await page.locator('#w-nodes').fill('4');
  await page.locator('#w-subnet').fill('auto');
  await expect(page.locator('.field-error')).toHaveCount(0);
  await shot(page, '07-vc-wizard-valid');
  await page.getByRole('button', { name: 'Cancel' }).click();

  await open(page, 'volumes');
  await expectNoDatabase(page);
  await shot(page, '08-volumes');

  await open(page, 'consoles');
  await expect(page.getByText('No consoles open')).toBeVisible();
  await shot(page, '09-consoles-empty');
  // A real PTY shell on the node over SSH: type into xterm.js, read the answer it draws.
  await page.getByRole('button', { name: '+ Open console' }).click();
  await page.getByRole('menuitem', { name: new RegExp(`^${nodeName}`) }).click();
  await expect(page.locator('.term-open')).toHaveText('connected');
  await page.locator('.term-pane .xterm').click();
  await page.keyboard.type('echo "vlx-$((6*7))" && hostname\n');
  await expect(page.locator('.term-pane .xterm-rows')).toContainText('vlx-42');
  await expect(page.locator('.term-pane .xterm-rows')).toContainText(hostname());
  await shot(page, '09-consoles-shell');
  await page.keyboard.type('exit\n');
  await expect(page.locator('.term-pane .xterm-rows')).toContainText('[exited with code 0]');
  await expect(page.getByRole('button', { name: 'Reconnect' })).toBeVisible();
  await shot(page, '09-consoles-closed');
  // Reconnect resumes the same terminal (terminal.reconnect): a fresh shell in the same tab.
  await page.getByRole('button', { name: 'Reconnect' }).click();
  await expect(page.locator('.term-open')).toHaveText('connected');
  await page.locator('.term-pane .xterm').click();
  await page.keyboard.type('echo "again-$((1+1))"\n');
  await expect(page.locator('.term-pane .xterm-rows')).toContainText('again-2');
  await expect(page.locator('.tabs .tab')).toHaveCount(1);

  await open(page, 'tasks');
  // Tasks of a cluster without a database are this workstation's own: none yet.
  await expect(page.locator('.state-empty')).toContainText('No tasks yet');
  await expect(page.locator('.state-error')).toHaveCount(0);
  await shot(page, '10-tasks');

  // Every console error counts, a failed resource load (an HTTP 4xx/5xx) included.
  expect(errors).toEqual([]);
});

test('the bridge refuses requests without the token and sockets from another origin', async ({ request }) => {
  const origin = new URL(bridge.url).origin;
  const plain = await request.get(`${origin}/`, { maxRedirects: 0 });
  expect(plain.status()).toBe(403);
  const wrong = await request.get(`${origin}/?token=nope`, { maxRedirects: 0 });
  expect(wrong.status()).toBe(403);
  const right = await request.get(bridge.url, { maxRedirects: 0 });
  expect(right.status()).toBe(303);
  const setCookie = right.headers()['set-cookie'] ?? '';
  expect(setCookie).toMatch(/HttpOnly; SameSite=Strict/);

  // The same socket request twice, with the valid cookie, differing only in Origin: the
  // bridge's own origin is let in (it says "ready"), another origin is refused with 403.
  const cookie = setCookie.split(';')[0]!;
  const wsUrl = `${origin.replace(/^http/, 'ws')}/api`;
  expect(await socketOutcome(wsUrl, { cookie, origin })).toBe('ready');
  expect(await socketOutcome(wsUrl, { cookie, origin: 'http://127.0.0.1:1' })).toBe('refused 403');
  expect(await socketOutcome(wsUrl, { cookie, origin: 'http://evil.example' })).toBe('refused 403');
});

/** Open a WebSocket with these headers: "ready" once the bridge greets it, or how it was refused. */
function socketOutcome(url: string, headers: { cookie: string; origin: string }): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    const timer = setTimeout(() => { ws.terminate(); resolve('no answer within 10 s'); }, 10_000);
    const done = (what: string) => { clearTimeout(timer); ws.terminate(); resolve(what); };
    ws.on('message', (m) => done(JSON.parse(String(m)).t === 'ready' ? 'ready' : `said ${String(m)}`));
    ws.on('unexpected-response', (_req, res) => done(`refused ${res.statusCode}`));
    ws.on('error', (e) => done(`error ${e.message}`));
  });
}
