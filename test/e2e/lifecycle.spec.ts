import { test, expect, type Locator, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { labSsh, startGui } from './support.js';
import { LEASE_S, MARGIN_S } from '../../main/health/lease.js';
import { labApp, screensDir, type LabNode } from './support/lab-app.js';

/**
 * What the GUI does to a VC after it exists, against the real lab in Debian's Chromium:
 * start (cancelled from the Tasks screen, then resumed), save, restore and stop from the
 * Virtual clusters screen; a change made by another workstation (`vlx` on the same cluster)
 * arriving in the open screen with no reload; a lab node crashed and revived from the GUI.
 * After each step what the screen says is checked against what the nodes run (over SSH)
 * and what `vlx vc status --json` reports, not against the DOM alone. One tiny 2-VM VC
 * serves every step; it is destroyed afterwards and a failed cleanup fails the run.
 */
const shots = screensDir(join(process.cwd(), 'test-results', 'screenshots', 'lifecycle'));
const app = labApp();
const { vlx } = app;
const VC = `lc${randomBytes(3).toString('hex')}`;
const OTHER = `${VC}x`;

let bridge: Awaited<ReturnType<typeof startGui>>;
let page: Page;
const errors: string[] = [];
let nodes: LabNode[] = [];
let crashed: string | undefined;

const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`) });
const addr = (node: string) => nodes.find((n) => n.name === node)!.address;

async function open(screen: string) {
  await page.locator(`button.nav[data-screen="${screen}"]`).click();
  await expect(page.locator(`button.nav[data-screen="${screen}"]`)).toHaveAttribute('aria-current', 'page');
}

/** The VC's detail panel on the Virtual clusters screen, opened from its row. */
async function vcPanel(): Promise<Locator> {
  await open('vcs');
  await page.locator(`tr[data-vc="${VC}"]`).click();
  const panel = page.locator(`aside[aria-label="virtual cluster ${VC}"]`);
  await expect(panel.locator('tr[data-vm]')).toHaveCount(2);
  return panel;
}

/** What the panel shows for each VM: its node column and its state badge. */
function shown(panel: Locator): Promise<Record<string, { node: string; state: string }>> {
  return panel.evaluate((el) => Object.fromEntries([...el.querySelectorAll<HTMLElement>('tr[data-vm]')].map((tr) => [
    tr.dataset.vm!, { node: tr.querySelector('.vm-node')!.textContent!.trim(), state: tr.querySelector('.vm-state')!.textContent!.trim() },
  ])));
}

/** Where each VM of the VC has a live QEMU, asked of every node over SSH (pid file, process, its command line). */
async function qemus(): Promise<Record<string, { node: string; cmdline: string }[]>> {
  const out: Record<string, { node: string; cmdline: string }[]> = { vm1: [], vm2: [] };
  for (const n of nodes) {
    if (n.name === crashed) continue;
    const r = await labSsh(n.address, `for v in vm1 vm2; do p=$(cat /run/virtualinux/vm/${VC}/$v.pid 2>/dev/null) && kill -0 "$p" 2>/dev/null && echo "$v $(tr '\\0' ' ' < /proc/$p/cmdline)"; done; true`);
    expect(r.code, `ssh ${n.name}: ${r.stderr}`).toBe(0);
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      const [vm, ...rest] = line.split(' ');
      const cmdline = rest.join(' ');
      // A pid file whose pid was reused by something else is not a VM.
      if (cmdline.includes('qemu-system') && cmdline.includes(`${VC}/${vm}`)) out[vm!]!.push({ node: n.name, cmdline });
    }
  }
  return out;
}

async function status(): Promise<{ state: string; drift: string[]; vms: { name: string; node?: string; state: string }[]; actual: Record<string, string[]> }> {
  const r = await vlx('vc', 'status', VC, '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

/**
 * The screen, the CLI's status and the nodes agree on `state`: running VMs run exactly where
 * the screen says, on one node each; otherwise no QEMU of the VC is left anywhere.
 */
async function agree(panel: Locator, state: 'running' | 'stopped' | 'saved'): Promise<Record<string, { node: string; cmdline: string }[]>> {
  await expect(panel.locator('.detail-head .badge')).toHaveText(state, { timeout: 30_000 });
  await expect(panel.locator('tr[data-vm] .vm-state')).toHaveText([state, state], { timeout: 15_000 });
  const dom = await shown(panel);
  const st = await status();
  expect(st.state).toBe(state);
  expect(st.drift).toEqual([]);
  const q = await qemus();
  for (const vm of ['vm1', 'vm2']) {
    expect(st.vms.find((v) => v.name === vm)?.state, `${vm} in vc status`).toBe(state);
    if (state === 'running') {
      expect(q[vm]!.map((x) => x.node), `${vm}: nodes with its QEMU`).toEqual([dom[vm]!.node]);
      expect(st.vms.find((v) => v.name === vm)?.node).toBe(dom[vm]!.node);
    } else {
      expect(q[vm], `${vm}: a QEMU left after ${state}`).toEqual([]);
    }
  }
  return q;
}

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  test.setTimeout(120_000);
  nodes = await app.labNodes();
  expect(nodes.filter((n) => n.state === 'up').length, 'lab nodes up').toBeGreaterThanOrEqual(3);
  const images = await vlx('image', 'list', '--json');
  if (!(JSON.parse(images.stdout || '[]') as { name: string }[]).some((i) => i.name === 'tiny')) {
    const built = await vlx('image', 'build', 'tiny');
    expect(built.code, built.stderr).toBe(0);
  }
  // Creating is the wizard's, which lab.spec.ts drives; here it is only setup.
  const made = await vlx('vc', 'create', VC, '--nodes', '2', '--vcpus', '1', '--mem-mb', '96', '--disk-gb', '1', '--image', 'tiny');
  expect(made.code, made.stderr).toBe(0);
  bridge = await startGui(app.appHome);
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${m.text()} (${m.location().url})`); });
  await page.goto(bridge.url);
  await expect(page.locator('.statusbar')).toContainText('Cluster: lab');
});

test.afterAll(async () => {
  test.setTimeout(180_000);
  const problems: string[] = [];
  if (crashed) {
    const t = Date.now();
    const r = await vlx('lab', 'revive', crashed);
    process.stderr.write(`cleanup: lab revive ${crashed} took ${Date.now() - t} ms\n`);
    if (r.code !== 0) problems.push(`lab revive ${crashed}: ${r.stderr}`);
  }
  const list = await vlx('vc', 'list', '--json');
  if (list.code !== 0) problems.push(`vc list: ${list.stderr}`);
  else {
    for (const name of (JSON.parse(list.stdout) as { name: string }[]).map((v) => v.name).filter((n) => n === VC || n === OTHER)) {
      const t = Date.now();
      const r = await vlx('vc', 'destroy', name);
      if (r.code !== 0) problems.push(`vc destroy ${name}: ${r.stderr}`);
      process.stderr.write(`cleanup: vc destroy ${name} took ${Date.now() - t} ms\n`);
    }
  }
  await page?.close();
  if (bridge) {
    const t = Date.now();
    const exited = await Promise.race([bridge.stop().then(() => true), new Promise<boolean>((r) => { setTimeout(() => r(false), 20_000); })]);
    if (!exited) {
      // A known fault, not this file's subject (see the report of the branch "lifecycle"): the bridge
      // keeps one SSH connection open after SIGTERM. Said loudly, and the process is not left behind.
      const conns = execFileSync('ss', ['-tnp'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`pid=${bridge.pid},`));
      process.stderr.write(`KNOWN FAULT: vlx gui (pid ${bridge.pid}) did not exit within 20 s of SIGTERM; its TCP connections: ${conns.join(' | ') || 'none'}; killed\n`);
      // With NODE_OPTIONS=--report-on-signal, SIGUSR2 writes a diagnostic report (its open handles) first.
      process.kill(bridge.pid, 'SIGUSR2');
      await new Promise((r) => { setTimeout(r, 2_000); });
      try { process.kill(bridge.pid, 'SIGKILL'); } catch { /* SIGUSR2 ended it */ }
    }
    process.stderr.write(`cleanup: the bridge stopped in ${Date.now() - t} ms\n`);
  }
  app.cleanup();
  // A VC or a crashed node left behind would break the next file on the shared lab.
  expect(problems).toEqual([]);
});

test('a start cancelled from the Tasks screen ends cancelled, and Resume finishes it: the VMs run where the screen says', async () => {
  test.setTimeout(90_000);
  const panel = await vcPanel();
  await expect(panel.locator('.detail-head .badge')).toHaveText('stopped');
  await panel.getByLabel('policy').selectOption('cyclic');
  await shot('01-vc-created');
  await panel.getByRole('button', { name: 'Start', exact: true }).click();
  await open('tasks');
  const item = page.locator('.task-item', { hasText: `Start virtual cluster ${VC}` });
  await expect(item).toHaveCount(1);
  await item.click();
  const detail = page.locator('section.task-detail');
  await detail.getByRole('button', { name: 'Cancel', exact: true }).click();
  await expect(item.locator('.badge')).toHaveText('cancelled', { timeout: 60_000 });
  await expect(detail.locator('.step-pending').first()).toBeVisible();
  await shot('02-start-cancelled');
  // Not finished: the VC is not running, and no step marked it so.
  const mid = await status();
  expect(mid.state).not.toBe('running');
  expect(mid.state).not.toBe('error');

  await detail.getByRole('button', { name: 'Resume' }).click();
  await expect(item.locator('.badge')).toHaveText('succeeded', { timeout: 60_000 });
  await shot('03-start-resumed');
  const q = await agree(await vcPanel(), 'running');
  // cyclic over several nodes with room for both: not on the same node.
  expect(q.vm1![0]!.node).not.toBe(q.vm2![0]!.node);
  await shot('04-vc-running');
});

test('save and restore from the VC screen: the state files are on shared storage, and the restored QEMUs load them', async () => {
  test.setTimeout(90_000);
  const panel = await vcPanel();
  await panel.getByRole('button', { name: 'Save', exact: true }).click();
  await agree(panel, 'saved');
  const files = await labSsh(nodes[0]!.address, `cd /srv/virtualinux/vc/${VC} && test -s vm1.state && test -s vm2.state && echo ok`);
  expect(files.stdout.trim(), `state files: ${files.stderr}`).toBe('ok');
  await expect(panel.getByRole('button', { name: 'Restore', exact: true })).toBeEnabled();
  await expect(panel.getByRole('button', { name: 'Start', exact: true })).toBeEnabled();
  await shot('05-vc-saved');

  await panel.getByRole('button', { name: 'Restore', exact: true }).click();
  const q = await agree(panel, 'running');
  // Restored, not booted afresh: each QEMU was started to take its state file in.
  for (const vm of ['vm1', 'vm2']) expect(q[vm]![0]!.cmdline).toMatch(new RegExp(`-incoming (exec:cat )?\\S*${VC}/${vm}\\.state`));
  await shot('06-vc-restored');
});

test('another workstation\'s changes arrive in the open screen with no reload: a VM moved and a VC created by `vlx`', async () => {
  test.setTimeout(90_000);
  const panel = await vcPanel();
  const before = await shown(panel);
  const to = nodes.find((n) => n.name !== before.vm1!.node && n.name !== before.vm2!.node)!.name;
  // Nothing on this screen polls: only the cluster database's NOTIFY can bring these in.
  const moved = await vlx('vm', 'move', `${VC}/vm1`, '--to', to);
  expect(moved.code, moved.stderr).toBe(0);
  await expect(panel.locator('tr[data-vm="vm1"] .vm-node')).toHaveText(to, { timeout: 5_000 });
  expect((await qemus()).vm1!.map((x) => x.node)).toEqual([to]);
  await shot('07-moved-elsewhere');

  const made = await vlx('vc', 'create', OTHER, '--nodes', '1', '--vcpus', '1', '--mem-mb', '96', '--disk-gb', '1', '--image', 'tiny');
  expect(made.code, made.stderr).toBe(0);
  await expect(page.locator(`tr[data-vc="${OTHER}"]`)).toBeVisible({ timeout: 5_000 });
  await shot('08-created-elsewhere');
  const gone = await vlx('vc', 'destroy', OTHER);
  expect(gone.code, gone.stderr).toBe(0);
  await expect(page.locator(`tr[data-vc="${OTHER}"]`)).toHaveCount(0, { timeout: 5_000 });
});

test('stop from the VC screen: no QEMU of the VC is left on any node', async () => {
  test.setTimeout(90_000);
  const panel = await vcPanel();
  await panel.getByRole('button', { name: 'Stop', exact: true }).click();
  await agree(panel, 'stopped');
  await expect(panel.getByRole('button', { name: 'Stop', exact: true })).toBeDisabled();
  await shot('09-vc-stopped');
});

test('a lab node crashed from the GUI shows unreachable, then down, on its lane within the health loop\'s cadence; revived, up again', async () => {
  test.setTimeout(120_000);
  // Not a database or etcd member: the rest of the lab keeps its quorum meanwhile.
  const db = await vlx('db', 'status', '--json');
  expect(db.code, db.stderr).toBe(0);
  const members = new Set((JSON.parse(db.stdout) as { members: { node: string }[] }).members.map((m) => m.node));
  const victim = nodes.find((n) => !members.has(n.name));
  expect(victim, `a lab node outside the database's members ${[...members].join(', ')}`).toBeDefined();
  const name = victim!.name;
  const lane = page.locator(`.lane[data-node="${name}"]`);

  await open('topology');
  await expect(lane.locator('.dot')).toHaveClass(/dot-up/);
  await open('connect');
  const row = page.locator('.card-lab tr', { has: page.getByText(name, { exact: true }) });
  crashed = name;
  await row.getByRole('button', { name: 'Crash' }).click();
  const t0 = Date.now();
  await expect(row.locator('.badge')).toHaveText('crashed', { timeout: 15_000 });
  await shot('10-lab-crashed');

  await open('topology');
  // A probe every 1.5 s that times out after 1.5 s, then the lanes' refetch: lost within ~3-5 s
  // of the crash; 8 s leaves room for a loaded 2-core machine.
  await expect(lane.locator('.lane-title .badge-bad')).toHaveText(/unreachable|down/, { timeout: Math.max(500, 8_000 - (Date.now() - t0)) });
  const lost = Date.now() - t0;
  await shot('11-lane-unreachable');
  expect((await labSsh(victim!.address, 'hostname')).code, 'the crashed node still answers SSH').not.toBe(0);
  // Confirmed down once its lease and the margin have run out, plus a tick.
  await expect(lane.locator('.lane-title .badge-bad')).toHaveText('down', { timeout: (LEASE_S + MARGIN_S + 5) * 1000 });
  const down = Date.now() - t0;
  await expect(lane.locator('.dot')).not.toHaveClass(/dot-up/);
  await shot('12-lane-down');

  await open('connect');
  await row.getByRole('button', { name: 'Revive' }).click();
  const t1 = Date.now();
  await expect(row.locator('.badge')).toHaveText('up', { timeout: 60_000 });
  crashed = undefined;
  expect((await labSsh(victim!.address, 'hostname')).stdout.trim()).toBe(name);
  await open('topology');
  await expect(lane.locator('.dot')).toHaveClass(/dot-up/, { timeout: 6_000 });
  await expect(lane.locator('.lane-title .badge-bad')).toHaveCount(0);
  const back = Date.now() - t1;
  await shot('13-lane-up');
  process.stderr.write(`timing: ${name} unreachable on its lane ${lost} ms after the crash, down after ${down} ms, up ${back} ms after Revive\n`);
  expect(errors).toEqual([]);
});
