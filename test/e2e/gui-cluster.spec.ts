import { test, expect, type Page } from '@playwright/test';
import { join } from 'node:path';
import { labSsh, startGui } from './support.js';
import { labApp, screensDir } from './support/lab-app.js';

/**
 * The GUI paths of the CLI's node-level commands, against the real lab in Debian's Chromium:
 * exec on chosen nodes with per-node output and exit codes (checked against each node over
 * SSH, not through the app), and an image build with its progress. Screenshots in both
 * themes. The lab is shared: only brought up (idempotent), never taken down.
 */
const shots = screensDir();

const app = labApp();
const { appHome } = app;
let bridge: Awaited<ReturnType<typeof startGui>>;
let page: Page;
const errors: string[] = [];
let labNodes: { name: string; address: string }[] = [];

async function palette(command: string) {
  await page.keyboard.press('Control+Shift+P');
  await page.getByRole('dialog', { name: 'Command palette' }).getByRole('combobox').fill(command);
  await page.keyboard.press('Enter');
}

async function setTheme(theme: 'light' | 'dark') {
  await page.getByTestId('theme-select').selectOption(theme);
  await expect.poll(() => page.evaluate(() => document.documentElement.dataset.theme)).toBe(theme);
}

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  test.setTimeout(300_000);
  labNodes = await app.labNodes();
  bridge = await startGui(appHome);
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(bridge.url);
  await expect(page.locator('.statusbar')).toContainText('Cluster: lab');
});

test.afterAll(async () => {
  await page?.close();
  await bridge?.stop();
  app.cleanup();
});

test('exec runs on the ticked nodes only and shows each node\'s own output and exit code', async () => {
  expect(labNodes.length).toBeGreaterThanOrEqual(3);
  const [a, b, c] = labNodes as [typeof labNodes[0], typeof labNodes[0], typeof labNodes[0]];
  await palette('run command on nodes');
  await expect(page.getByRole('heading', { name: 'Run a command' })).toBeVisible();
  await expect(page.locator('#exec-command')).toBeFocused();
  // Tick two nodes, not the third.
  await page.getByRole('button', { name: 'None' }).click();
  await page.locator(`input[data-node="${a.name}"]`).check();
  await page.locator(`input[data-node="${b.name}"]`).check();
  // Each node answers with its own hostname; the second also fails with a code of its choosing.
  await page.locator('#exec-command').fill(`hostname; echo to-stderr >&2; [ "$(hostname)" = "${b.name}" ] && exit 7; true`);
  await page.keyboard.press('Enter');
  const card = (n: string) => page.locator(`.exec-node[data-node="${n}"]`);
  await expect(card(a.name)).toBeVisible({ timeout: 60_000 });
  await expect(card(c.name)).toHaveCount(0);

  for (const n of [a, b]) {
    const truth = await labSsh(n.address, 'hostname');
    expect(truth.code).toBe(0);
    await expect(card(n.name).locator('.exec-out')).toHaveText(`${truth.stdout.trim()}\n`);
    await expect(card(n.name).locator('.exec-err')).toHaveText('to-stderr\n');
  }
  await expect(card(a.name)).toHaveClass(/exec-ok/);
  await expect(card(a.name).locator('.badge')).toHaveText('exit 0');
  await expect(card(b.name)).toHaveClass(/exec-failed/);
  await expect(card(b.name).locator('.badge')).toHaveText('exit 7');
  // Failures first.
  await expect(page.locator('.exec-node').first()).toHaveAttribute('data-node', b.name);
  await expect(page.locator('.exec-summary')).toContainText('1 of 2 nodes exit 0 · 1 exit non-zero');
  await setTheme('dark');
  await page.screenshot({ path: join(shots, 'lab-exec-dark.png') });
  await setTheme('light');
  await page.screenshot({ path: join(shots, 'lab-exec-light.png') });

  // The previous command comes back with the Up arrow.
  await page.locator('#exec-command').fill('');
  await page.locator('#exec-command').press('ArrowUp');
  await expect(page.locator('#exec-command')).toHaveValue(/^hostname; echo to-stderr/);
});

test('an image build shows its progress and log, and the image is listed with its details', async () => {
  test.setTimeout(600_000);
  await page.locator('button.nav[data-screen="images"]').click();
  await expect(page.getByRole('heading', { name: 'Images', exact: true })).toBeVisible();
  await page.locator('#image-build').click();
  const progress = page.locator('.task-progress').first();
  await expect(progress).toBeVisible();
  await expect(progress.locator('[role=progressbar]')).toBeVisible({ timeout: 30_000 });
  await page.screenshot({ path: join(shots, 'lab-images-building.png') });
  await expect(progress).toHaveAttribute('data-state', 'succeeded', { timeout: 540_000 });
  await expect(progress.locator('.log-tail')).toContainText('tiny');
  const row = page.locator('tr[data-image="tiny"]');
  await expect(row).toBeVisible();
  await row.click();
  await expect(page.locator('.image-detail')).toContainText('/images/tiny');
  // What the app says is on shared storage is there, seen from a node.
  const seen = await labSsh(labNodes[0]!.address, 'ls /srv/virtualinux/images/');
  expect(seen.stdout).toMatch(/tiny/);
  await setTheme('dark');
  await page.screenshot({ path: join(shots, 'lab-images-dark.png') });
  await setTheme('light');
  expect(errors).toEqual([]);
});

test('node details, the database and the node services, as the nodes themselves report them', async () => {
  test.setTimeout(180_000);
  const n = labNodes[1]!;
  // The palette asks which node, then shows its details.
  await palette('node details');
  await page.getByRole('dialog', { name: 'Command palette' }).getByRole('combobox').fill(n.name);
  await expect(page.locator('.palette-row.active')).toContainText(n.name);
  await page.keyboard.press('Enter');
  const detail = page.getByRole('complementary', { name: `node ${n.name}` });
  await expect(detail).toBeVisible({ timeout: 60_000 });
  const kernel = (await labSsh(n.address, 'uname -r')).stdout.trim();
  const cores = (await labSsh(n.address, 'nproc')).stdout.trim();
  await expect(page.locator(`.node-table tr[data-node="${n.name}"]`)).toContainText(kernel);
  await expect(detail).toContainText(`Kernel${kernel}`);
  await expect(detail).toContainText(new RegExp(`Detected${cores} cores`));
  await expect(detail.locator('.tool-list li').first()).toBeVisible();

  // The database answers (the lab deploys it) and says where it is; "Apply" is offered exactly when something is pending.
  const db = page.getByTestId('db-status');
  await expect(db).toBeVisible({ timeout: 60_000 });
  await expect(db).toContainText('reachable');
  await expect(db).toContainText(/:\d+\/\w+ on n\d/);
  const migrations = (await page.getByTestId('db-migrations').textContent())!;
  if (migrations.includes('none pending')) await expect(page.locator('#db-migrate')).toBeDisabled();
  else await expect(page.locator('#db-migrate')).toBeEnabled();

  // Node services: a row per lab node, or the error saying why not; never an empty card.
  await expect(page.locator('[data-testid="services-table"], .services-card .state-error').first()).toBeVisible({ timeout: 60_000 });
  await page.screenshot({ path: join(shots, 'lab-nodes-light.png') });
  await setTheme('dark');
  await page.screenshot({ path: join(shots, 'lab-nodes-dark.png') });
  await page.locator('.services-card').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, 'lab-nodes-dark-services.png'), fullPage: true });
  await setTheme('light');
  expect(errors).toEqual([]);
});

test('dark theme on the topology and on a real node shell, and the terminal follows a theme switch', async () => {
  test.setTimeout(120_000);
  const n = labNodes[0]!;
  await setTheme('dark');
  await page.locator('button.nav[data-screen="topology"]').click();
  await expect(page.locator(`.lane[data-node="${n.name}"]`)).toBeVisible({ timeout: 60_000 });
  await page.screenshot({ path: join(shots, 'lab-topology-dark.png') });

  await palette('node shell');
  await page.getByRole('dialog', { name: 'Command palette' }).getByRole('combobox').fill(n.name);
  await page.keyboard.press('Enter');
  await expect(page.locator('.term-state')).toHaveText('connected', { timeout: 60_000 });
  await page.keyboard.type('ls --color=always -d /srv /etc /bin; echo "$(hostname) ready"\n');
  await expect(page.locator('.term-pane')).toContainText(`${n.name} ready`, { timeout: 30_000 });
  // xterm's DOM renderer paints the theme's foreground on its rows: that is what a theme switch must change.
  const bg = () => page.evaluate(() => getComputedStyle(document.querySelector('.term-pane .xterm-rows')!).color);
  const dark = await bg();
  await page.screenshot({ path: join(shots, 'lab-console-dark.png') });
  // Switched from the palette while the shell has the focus: the terminal repaints in the light colours.
  await palette('theme light');
  await expect.poll(bg).not.toBe(dark);
  await page.screenshot({ path: join(shots, 'lab-console-light.png') });
  expect(errors).toEqual([]);
});
