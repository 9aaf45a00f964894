import { test, expect, type Page } from '@playwright/test';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startGui } from './support.js';
import { labApp, screensDir } from './support/lab-app.js';

/**
 * The VC screen's HA restart marks against the lab: a VM's toggle, priority and start order
 * reach the database (read back with `vlx vc status --json`, another face of the same
 * channel), and a bad priority is refused with the field and the rule shown in place.
 */
const shots = screensDir(join(process.cwd(), 'test-results', 'screenshots', 'ha'));
const app = labApp();
const { vlx } = app;
const VC = `ha${randomBytes(3).toString('hex')}`;
let bridge: Awaited<ReturnType<typeof startGui>>;
let page: Page;
const errors: string[] = [];

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  test.setTimeout(180_000);
  await app.labNodes();
  const made = await vlx('vc', 'create', VC, '--nodes', '2', '--vcpus', '1', '--mem-mb', '96', '--disk-gb', '1', '--image', 'tiny');
  expect(made.code, made.stderr).toBe(0);
  bridge = await startGui(app.appHome);
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(bridge.url);
  await expect(page.locator('.statusbar')).toContainText('Cluster: lab');
});

test.afterAll(async () => {
  test.setTimeout(120_000);
  await vlx('vc', 'destroy', VC);
  await bridge?.stop();
  app.cleanup();
});

test('HA toggles per VC and per VM, with priority and start order; a bad priority is refused in place', async () => {
  await page.locator('button.nav[data-screen="vcs"]').click();
  await page.locator(`tr[data-vc="${VC}"]`).click();
  const panel = page.locator(`aside[aria-label="virtual cluster ${VC}"]`);
  const vm1 = panel.locator('tr[data-ha-vm="vm1"]');
  await expect(vm1.locator('.vm-ha')).toHaveAttribute('data-ha', 'off');
  await vm1.getByLabel('HA for vm1').check();
  await expect(vm1.locator('.vm-ha')).toHaveAttribute('data-ha', 'on');
  await vm1.getByLabel('priority of vm1').fill('7');
  await vm1.getByLabel('start order of vm1').fill('3');
  await vm1.getByLabel('start order of vm1').blur();
  await expect.poll(async () => {
    const st = JSON.parse((await vlx('vc', 'status', VC, '--json')).stdout) as { vms: { name: string; ha?: { on: boolean; priority: number; order: number } }[] };
    return st.vms.find((v) => v.name === 'vm1')?.ha;
  }, { timeout: 15_000 }).toEqual({ on: true, priority: 7, order: 3, own: true });
  await panel.getByLabel('HA restart by default').check();
  await expect(panel.locator('tr[data-ha-vm="vm2"] .vm-ha')).toHaveAttribute('data-ha', 'on');
  await vm1.getByLabel('priority of vm1').fill('5000');
  await vm1.getByLabel('priority of vm1').blur();
  await expect(vm1).toContainText(/priority.*must be a whole number from -1000 to 1000/);
  await expect.poll(async () => (JSON.parse((await vlx('vc', 'status', VC, '--json')).stdout) as { ha?: { on: boolean } }).ha?.on, { timeout: 15_000 }).toBe(true);
  await page.screenshot({ path: join(shots, 'vc-ha.png') });
  expect(errors).toEqual([]);
});
