import { test, expect, type Page, type Locator } from '@playwright/test';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { labSsh, startGui } from './support.js';
import { labApp, screensDir } from './support/lab-app.js';

/**
 * The whole app against the real lab, in Debian's Chromium through `vlx gui`: start the lab
 * from the Connect screen, create a VC of the tiny image in the wizard, start it cyclic,
 * drag a running VM to another node, and check over SSH (not through the app) that its QEMU
 * moved and it answers ping. Then node and VM consoles, a task's progress bar, and destroy.
 * The lab is taken down first, so the Connect screen really brings it up (a lab already up
 * would "come up" in 2 s with nothing done); it stays up afterwards. The VC this test makes
 * is destroyed even when a step fails.
 */
const shots = screensDir();

const app = labApp();
const { appHome, vlx } = app;
const VC = `e2e${randomBytes(3).toString('hex')}`;

let bridge: Awaited<ReturnType<typeof startGui>>;
let page: Page;
const errors: string[] = [];

async function shot(name: string) {
  await page.screenshot({ path: join(shots, `lab-${name}.png`) });
}

async function open(screen: string) {
  await page.locator(`button.nav[data-screen="${screen}"]`).click();
  await expect(page.locator('.screen-head h1, .screen-consoles .tabs').first()).toBeVisible();
}

const chip = (vm: string): Locator => page.locator(`.chip[data-vm="${VC}/${vm}"]`);
const lane = (node: string): Locator => page.locator(`.lane[data-node="${node}"]`);

/** Where the app's topology shows each VM of our VC, read from the DOM. */
async function placement(): Promise<Record<string, string>> {
  return page.evaluate((vc) => {
    const out: Record<string, string> = {};
    for (const el of document.querySelectorAll<HTMLElement>(`.lane[data-node] .chip[data-vm^="${vc}/"]`)) {
      out[el.dataset.vm!.slice(vc.length + 1)] = el.closest<HTMLElement>('.lane')!.dataset.node!;
    }
    return out;
  }, VC);
}

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  bridge = await startGui(appHome);
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${m.text()} (${m.location().url})`); });
});

test.afterAll(async () => {
  // Whatever happened above, the VC goes: through the CLI, which calls the same service.
  const list = await vlx('vc', 'list', '--json');
  if (list.code === 0 && (JSON.parse(list.stdout) as { name: string }[]).some((v) => v.name === VC)) {
    const r = await vlx('vc', 'destroy', VC);
    if (r.code !== 0) process.stderr.write(`cleanup: vc destroy ${VC} failed: ${r.stderr}\n`);
  }
  await page?.close();
  await bridge?.stop();
  app.cleanup();
});

let labNodes: { name: string; address: string }[] = [];

test('the lab comes up from the Connect screen and the tiny image is there', async () => {
  test.setTimeout(420_000);
  const down = await vlx('lab', 'down');
  expect(down.code, down.stderr).toBe(0);
  const before = await vlx('lab', 'status', '--json');
  expect((JSON.parse(before.stdout) as { state: string }).state).toBe('down');

  await page.goto(bridge.url);
  await expect(page.getByRole('heading', { name: 'Connect', exact: true })).toBeVisible();
  // A lab that is down is offered a plain start, not the check-and-repair of a running one.
  await expect(page.locator('#lab-start')).toHaveText('Start lab');
  await expect(page.locator('#lab-start')).toBeEnabled();
  await shot('01-connect');
  await page.locator('#lab-start').click();
  const progress = page.getByTestId('lab-progress');
  await expect(progress).toBeVisible();
  await shot('02-lab-starting');
  await expect(progress.locator('[role=progressbar]')).toHaveClass(/progress-succeeded/, { timeout: 300_000 });
  await expect(page.locator('tr.row-current')).toContainText('lab');
  await expect(page.locator('.statusbar')).toContainText('Cluster: lab');
  await shot('03-lab-up');

  const status = await vlx('lab', 'status', '--json');
  expect(status.code, status.stderr).toBe(0);
  const up = JSON.parse(status.stdout) as { state: string; nodes: { name: string; address: string }[] };
  expect(up.state).toBe('up');
  labNodes = up.nodes.map((n) => ({ name: n.name, address: n.address }));
  expect(labNodes.length).toBeGreaterThanOrEqual(2);
  // Seen from outside the app: every node answers over SSH with its own name.
  for (const n of labNodes) expect((await labSsh(n.address, 'hostname')).stdout.trim()).toBe(n.name);

  // The image step of a new lab, taken every run: the build is cached on this workstation
  // (seconds), then put on shared storage again; no VC uses the image at this point.
  const built = await vlx('image', 'build', 'tiny');
  expect(built.code, built.stderr).toBe(0);
  const images = await vlx('image', 'list', '--json');
  expect((JSON.parse(images.stdout || '[]') as { name: string }[]).map((i) => i.name)).toContain('tiny');
});

test('a VC is created in the wizard and started cyclic: one VM per node', async () => {
  test.setTimeout(240_000);
  const n = labNodes.length;
  await open('topology');
  for (const node of labNodes) await expect(lane(node.name)).toBeVisible();
  await expect(page.locator('.lane .dot-up')).toHaveCount(n);
  await shot('04-topology-before');

  await open('vcs');
  await page.getByRole('button', { name: /New virtual cluster|Create the first one/ }).first().click();
  await page.locator('#w-name').fill(VC);
  await page.locator('#w-nodes').fill(String(n));
  await page.locator('#w-vcpus').fill('1');
  await page.locator('#w-memMb').fill('96');
  await page.locator('#w-diskGb').fill('1');
  await expect(page.locator('#w-image')).toHaveValue('tiny');
  await page.locator('.wizard-preview select').first().selectOption('cyclic');
  // The preview comes from the placement function over the nodes' live capacity.
  const preview = page.locator('.preview-list li');
  await expect(preview).toHaveCount(n);
  await expect(page.locator('.field-error')).toHaveCount(0);
  await shot('05-wizard');
  await page.getByRole('button', { name: 'Create', exact: true }).click();

  // The wizard hands over to the Tasks screen; the create task ends there.
  await expect(page.locator('.screen-head h1')).toHaveText('Tasks');
  const created = page.locator('.task-item', { hasText: `Create virtual cluster ${VC}` });
  await expect(created.locator('.badge')).toHaveText('succeeded', { timeout: 60_000 });
  await shot('06-tasks-created');

  // Every value the start task's progress bar takes is recorded as the DOM changes (no polling).
  await page.evaluate((label) => {
    const w = window as unknown as { __seen: { v: number; running: boolean }[] };
    w.__seen = [];
    new MutationObserver(() => {
      const bar = document.querySelector<HTMLElement>(`[role=progressbar][aria-label="${label}"]`);
      if (!bar) return;
      const v = Number(bar.getAttribute('aria-valuenow'));
      const running = bar.classList.contains('progress-running');
      const last = w.__seen[w.__seen.length - 1];
      if (!last || last.v !== v || last.running !== running) w.__seen.push({ v, running });
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow', 'class'] });
  }, `Start virtual cluster ${VC} progress`);

  await open('vcs');
  await page.locator(`tr[data-vc="${VC}"]`).click();
  const detail = page.locator(`aside[aria-label="virtual cluster ${VC}"]`);
  await detail.getByLabel('policy').selectOption('cyclic');
  await detail.getByLabel('mode').selectOption('strict');
  await detail.getByRole('button', { name: 'Start', exact: true }).click();
  await open('tasks');
  const starting = page.locator('.task-item', { hasText: `Start virtual cluster ${VC}` });
  await expect(starting).toBeVisible();
  await starting.click();
  await shot('07-task-running');
  await expect(starting.locator('.badge')).toHaveText('succeeded', { timeout: 180_000 });
  await shot('08-task-done');
  const seen = await page.evaluate(() => (window as unknown as { __seen: { v: number; running: boolean }[] }).__seen);
  expect(seen.some((s) => s.running && s.v > 0 && s.v < 100), JSON.stringify(seen)).toBe(true);
  expect(seen[seen.length - 1]).toEqual({ v: 100, running: false });

  await open('topology');
  for (let i = 1; i <= n; i++) await expect(chip(`vm${i}`)).toHaveClass(/chip-running/);
  const where = await placement();
  expect(Object.keys(where)).toHaveLength(n);
  // cyclic over n nodes with room for all: one VM on each node.
  expect(new Set(Object.values(where)).size).toBe(n);
  await shot('09-topology-running');
});

test('dragging a running VM onto another node live-migrates it; the nodes agree over SSH', async () => {
  test.setTimeout(180_000);
  const before = await placement();
  const from = before.vm1!;
  const to = before.vm2!;
  const vm = chip('vm1');
  await vm.dragTo(lane(to).locator('.lane-chips'));
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText(`Move 1 VM to ${to}?`);
  await expect(dialog).toContainText('live migration');
  await shot('10-move-confirm');
  await dialog.getByRole('button', { name: 'Move 1 VM' }).click();
  // The chip lands on the target lane once the task has ended and the topology is refetched.
  await expect(lane(to).locator(`.chip[data-vm="${VC}/vm1"]`)).toHaveClass(/chip-running/, { timeout: 120_000 });
  await expect(lane(to).locator(`.chip[data-vm="${VC}/vm1"]`)).not.toHaveClass(/chip-move-/);
  await shot('11-moved');

  const addr = (node: string) => labNodes.find((x) => x.name === node)!.address;
  const vmAddress = (await page.locator(`.chip[data-vm="${VC}/vm1"]`).getAttribute('title'))!.split(' · ')[2]!;
  expect(vmAddress).toMatch(/^10\.200\.\d+\.\d+$/);
  const pidOf = `p=$(cat /run/virtualinux/vm/${VC}/vm1.pid 2>/dev/null) && kill -0 "$p" && tr '\\0' ' ' < /proc/$p/cmdline`;
  const target = await labSsh(addr(to), pidOf);
  expect(target.code, target.stderr).toBe(0);
  expect(target.stdout).toMatch(/qemu-system/);
  const source = await labSsh(addr(from), pidOf);
  expect(source.code).not.toBe(0);
  // The first reply ends the wait (grep -m1 closes the pipe): no fixed sleep. The nodes have busybox, not iputils.
  const ping = await labSsh(addr(to), `busybox ping -c 10 -w 10 ${vmAddress} | grep -m1 'bytes from'`);
  expect(ping.code, ping.stdout + ping.stderr).toBe(0);
  // Routed from every other node too: the /32 moved with the VM.
  const other = labNodes.find((x) => x.name !== to)!;
  const routed = await labSsh(other.address, `busybox ping -c 10 -w 10 ${vmAddress} | grep -m1 'bytes from'`);
  expect(routed.code, routed.stdout + routed.stderr).toBe(0);
});

test('a node console answers hostname; a VM console shows its shell', async () => {
  test.setTimeout(120_000);
  const node = labNodes[0]!.name;
  await open('topology');
  await lane(node).locator('.lane-head').click({ button: 'right' });
  await page.getByRole('menuitem', { name: 'Open shell' }).click();
  await expect(page.locator('.term-state')).toHaveText('connected');
  await page.locator('.term-pane .xterm').click();
  await page.keyboard.type('hostname\n');
  // The answer is a terminal row of its own: the node's name and nothing else.
  await expect(page.locator('.term-pane .xterm-rows > div').filter({ hasText: new RegExp(`^\\s*${node}\\s*$`) })).not.toHaveCount(0);
  await shot('12-node-console');

  await open('topology');
  await chip('vm2').click({ button: 'right' });
  await page.getByRole('menuitem', { name: 'Open console' }).click();
  await expect(page.locator('.term-state')).toHaveText('connected');
  await page.locator('.term-pane .xterm').click();
  await page.keyboard.press('Enter');
  await page.keyboard.type('echo "vlx-$((6*7))"\n');
  await expect(page.locator('.term-pane .xterm-rows')).toContainText('vlx-42');
  await expect(page.locator('.term-pane .xterm-rows')).toContainText(/vm2:[^\n]*# /);
  await shot('13-vm-console');
});

test('the volumes tree shows the VC disks under the image; the VC is destroyed after its name is typed', async () => {
  test.setTimeout(180_000);
  await open('volumes');
  await expect(page.locator('.tree')).toContainText(`${VC}/vm1.qcow2`);
  await shot('14-volumes');

  await open('vcs');
  await page.locator(`tr[data-vc="${VC}"]`).click();
  const detail = page.locator(`aside[aria-label="virtual cluster ${VC}"]`);
  await expect(detail.locator('.badge').first()).toHaveText('running');
  await shot('15-vc-detail');
  await detail.getByRole('button', { name: 'Destroy…' }).click();
  const confirm = page.getByRole('button', { name: `Destroy ${VC}` });
  await expect(confirm).toBeDisabled();
  await page.locator('#destroy-name').fill(VC);
  await shot('16-destroy-confirm');
  await confirm.click();
  await expect(page.locator(`tr[data-vc="${VC}"]`)).toHaveCount(0, { timeout: 120_000 });
  await shot('17-destroyed');

  await open('tasks');
  await expect(page.locator('.task-item', { hasText: `Destroy virtual cluster ${VC}` }).locator('.badge')).toHaveText('succeeded');
  await shot('18-tasks');
  // Every console error counts, a failed resource load (an HTTP 4xx/5xx) included.
  expect(errors).toEqual([]);
});
