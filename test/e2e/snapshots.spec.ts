import { test, expect, type Page } from '@playwright/test';
import { join } from 'node:path';
import { startGui } from './support.js';
import { labApp, screensDir } from './support/lab-app.js';

/**
 * The Volumes screen's snapshot tree against the real lab in Debian's Chromium: a stopped
 * 2-VM tiny VC (no guest boots: the tree is the point), a snapshot taken from the tree, one
 * from the CLI, a rollback from the tree that starts a branch, and a delete from the tree.
 * Each step is checked in the tree and against `vlx vc snapshot list --json` (the other face).
 */
const shots = screensDir();
const app = labApp();
const { appHome, vlx } = app;
const VC = 't-e2esnap';

let bridge: Awaited<ReturnType<typeof startGui>>;
let page: Page;
const errors: string[] = [];

async function shot(name: string) {
  await page.screenshot({ path: join(shots, `snapshots-${name}.png`), fullPage: true });
}

async function tags(): Promise<{ tag: string; parent: string | null }[]> {
  const r = await vlx('vc', 'snapshot', 'list', VC, '--json');
  expect(r.code, r.stderr).toBe(0);
  const walk = (n: { tag: string; parent: string | null; children: unknown[] }): { tag: string; parent: string | null }[] =>
    [{ tag: n.tag, parent: n.parent }, ...(n.children as typeof n[]).flatMap(walk)];
  return (JSON.parse(r.stdout) as { tree: { tag: string; parent: string | null; children: unknown[] }[] }).tree.flatMap(walk);
}

/** The task a tree action started (not the one shown before it) ends in success. */
let lastTask = '';
async function taskSucceeds() {
  const el = page.locator(`.task-progress:not([data-task="${lastTask}"])`);
  await expect(el).toHaveAttribute('data-state', 'succeeded', { timeout: 60_000 });
  lastTask = (await el.getAttribute('data-task')) ?? '';
}

const row = (text: string) => page.locator('.tree tbody tr', { hasText: text });

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  test.setTimeout(300_000);
  await app.labNodes();
  if ((await vlx('vc', 'list', '--json')).stdout.includes(`"${VC}"`)) await vlx('vc', 'destroy', VC);
  const made = await vlx('vc', 'create', VC, '--nodes', '2', '--vcpus', '1', '--mem-mb', '128', '--disk-gb', '1', '--image', 'tiny');
  expect(made.code, made.stderr).toBe(0);
  bridge = await startGui(appHome);
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${m.text()} (${m.location().url})`); });
  await page.goto(bridge.url);
  await expect(page.locator('.statusbar')).toContainText('Cluster: lab');
});

test.afterAll(async () => {
  await vlx('vc', 'destroy', VC);
  await page?.close();
  await bridge?.stop();
  app.cleanup();
});

test('take, roll back to and delete VC snapshots from the Volumes tree', async () => {
  test.setTimeout(240_000);
  await page.locator('button.nav[data-screen="volumes"]').click();
  await expect(page.locator('.tree')).toContainText(`${VC}/vm1.qcow2`);

  // Take "first" from the tree; a bad tag is refused as it is typed, naming the rule.
  await row(`${VC}/vm1.qcow2`).getByRole('button', { name: 'Snapshot VC…' }).click();
  const dialog = page.getByRole('dialog', { name: `Snapshot every VM of ${VC}` });
  await dialog.locator('#snap-tag').fill('First');
  await expect(dialog.locator('.field-error')).toContainText('tag: must be 1-32 chars');
  await expect(dialog.getByRole('button', { name: 'Take snapshot' })).toBeDisabled();
  await dialog.locator('#snap-tag').fill('first');
  await dialog.getByRole('button', { name: 'Take snapshot' }).click();
  await taskSucceeds();
  await expect(row('vm1.qcow2').locator('.badge', { hasText: 'first' })).toBeVisible();

  // A second from the CLI: the tree follows (state.changed), nested under the first.
  expect((await vlx('vc', 'snapshot', VC, '--tag', 'second')).code).toBe(0);
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expect(page.locator('.tree .badge', { hasText: 'second' })).toHaveCount(2);

  // Roll back to "first" from the tree, then a third snapshot starts a branch beside "second".
  await row('vm1.qcow2').filter({ has: page.locator('.badge', { hasText: /^first$/ }) }).first().getByRole('button', { name: 'Roll back' }).click();
  await page.getByRole('dialog', { name: `Roll ${VC} back to first?` }).getByRole('button', { name: 'Roll back' }).click();
  await taskSucceeds();
  expect((await vlx('vc', 'snapshot', VC, '--tag', 'branch')).code).toBe(0);
  expect(await tags()).toEqual([{ tag: 'first', parent: null }, { tag: 'second', parent: 'first' }, { tag: 'branch', parent: 'first' }]);
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expect(page.locator('.tree .badge', { hasText: 'vm1 writes here' })).toHaveCount(1);
  await shot('tree-light');

  // Delete "second" from the tree: a leaf no VM runs on.
  await row('.qcow2').filter({ has: page.locator('.badge', { hasText: /^second$/ }) }).first().getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('dialog', { name: `Delete snapshot second of ${VC}?` }).getByRole('button', { name: 'Delete' }).click();
  await taskSucceeds();
  await expect(page.locator('.tree .badge', { hasText: 'second' })).toHaveCount(0);
  expect((await tags()).map((t) => t.tag)).toEqual(['first', 'branch']);
  await page.getByTestId('theme-select').selectOption('dark');
  await shot('tree-dark');
  expect(errors).toEqual([]);
});
