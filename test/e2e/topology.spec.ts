import { test, expect, type Page, type Locator } from '@playwright/test';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startGui } from './support.js';
import { labApp, screensDir } from './support/lab-app.js';

/**
 * The Topology screen against the real lab, in Debian's Chromium through `vlx gui`: the lanes
 * show the cluster database's members as `vlx db status` reports them; a chip wears its
 * transit badge while a live move runs and a drag of it is refused meanwhile (the domain's
 * words); dragging a lane onto another shows main's evacuation plan, re-planned by main when
 * the fallback is chosen, and, confirmed, the VMs end up where the plan said, as
 * `vlx vc status` sees them on the nodes. Tiny busybox guests,
 * one VC made here and destroyed at the end; the lab is shared: brought up (idempotent),
 * never taken down, the evacuated node taken out of maintenance again.
 */
const shots = screensDir();
const app = labApp();
const { appHome, vlx } = app;
const VC = `topo${randomBytes(3).toString('hex')}`;
let bridge: Awaited<ReturnType<typeof startGui>>;
let page: Page;
const errors: string[] = [];
let evacuated: string | undefined;

async function vlxJson<T>(...args: string[]): Promise<T> {
  const r = await vlx(...args, '--json');
  expect(r.code, `vlx ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as T;
}

const shot = (name: string) => page.screenshot({ path: join(shots, `topology-${name}.png`) });
const chip = (vm: string): Locator => page.locator(`.chip[data-vm="${VC}/${vm}"]`);
const lane = (node: string): Locator => page.locator(`.lane[data-node="${node}"]`);

/** Where the topology shows each VM of our VC, read from the DOM. */
async function placement(): Promise<Record<string, string>> {
  return page.evaluate((vc) => {
    const out: Record<string, string> = {};
    for (const el of document.querySelectorAll<HTMLElement>(`.lane[data-node] .chip[data-vm^="${vc}/"]`)) {
      out[el.dataset.vm!.slice(vc.length + 1)] = el.closest<HTMLElement>('.lane')!.dataset.node!;
    }
    return out;
  }, VC);
}

interface VcStatusJson { vms: { name: string; node?: string; state: string }[]; actual: Record<string, string[]>; drift: string[] }

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  test.setTimeout(300_000);
  const up = await vlx('lab', 'up');
  if (up.code !== 0) process.stderr.write(`note: lab up: ${up.stderr.trim().split('\n').at(-1)}\n`);
  const images = await vlxJson<{ name: string }[]>('image', 'list');
  if (!images.some((i) => i.name === 'tiny')) expect((await vlx('image', 'build', 'tiny')).code).toBe(0);
  const created = await vlx('vc', 'create', VC, '--nodes', '3', '--vcpus', '1', '--mem-mb', '96', '--disk-gb', '1', '--swap-mb', '0', '--image', 'tiny');
  expect(created.code, created.stderr).toBe(0);
  const started = await vlx('vc', 'start', VC, '--policy', 'cyclic', '--mode', 'free');
  expect(started.code, started.stderr).toBe(0);
  bridge = await startGui(appHome);
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${m.text()} (${m.location().url})`); });
  await page.goto(bridge.url);
  await expect(page.locator('.statusbar')).toContainText('Cluster: lab');
  await page.locator('button.nav[data-screen="topology"]').click();
  for (let i = 1; i <= 3; i++) await expect(chip(`vm${i}`)).toHaveClass(/chip-running/, { timeout: 30_000 });
});

test.afterAll(async () => {
  test.setTimeout(240_000);
  const timed = async <T>(what: string, p: Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try { return await p; } finally { process.stderr.write(`cleanup: ${what} took ${Date.now() - t0} ms\n`); }
  };
  if (evacuated) await timed(`node maintenance ${evacuated} off`, vlx('node', 'maintenance', evacuated, 'off'));
  const r = await timed(`vc destroy ${VC}`, vlx('vc', 'destroy', VC));
  if (r.code !== 0) process.stderr.write(`cleanup: vc destroy ${VC} failed: ${r.stderr}\n`);
  await page?.close();
  if (bridge) {
    // The bridge is asked to stop; one that does not within 20 s is killed (and said so).
    const stopped = await timed('vlx gui stop', Promise.race([bridge.stop().then(() => true), new Promise<boolean>((ok) => setTimeout(() => ok(false), 20_000))]));
    if (!stopped) { process.stderr.write('cleanup: vlx gui did not exit on SIGTERM within 20 s: killed\n'); process.kill(bridge.pid, 'SIGKILL'); }
  }
  app.cleanup();
});

test('the lanes show the database members\' roles as `vlx db status` does, and the status bar the primary', async () => {
  const db = await vlxJson<{ primary?: string; members?: { node: string; role: string }[] }>('db', 'status');
  const members = db.members ?? [];
  expect(members.length, 'the lab\'s database has members').toBeGreaterThan(0);
  const nodes = await page.locator('.lane[data-node]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.node!));
  for (const n of nodes) {
    const m = members.find((x) => x.node === n);
    if (m) await expect(lane(n).locator('[data-db-role]')).toHaveAttribute('data-db-role', m.role);
    else await expect(lane(n).locator('[data-db-role]')).toHaveCount(0);
  }
  if (db.primary) {
    await expect(lane(db.primary).locator('[data-db-role]')).toContainText('DB primary');
    await expect(page.getByTestId('db-primary')).toHaveText(new RegExp(`^DB primary: ${db.primary}`));
  } else {
    await expect(page.getByTestId('db-primary')).toContainText('no primary');
  }
  await shot('1-db-roles');
});

test('a chip in a live move wears its transit badge, and a drag of it is refused meanwhile', async () => {
  test.setTimeout(180_000);
  const lanes = await page.locator('.lane[data-node]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.node!));
  const dialog = page.getByRole('dialog');
  const refusal = page.locator(`.drag-refused[data-vm="${VC}/vm1"]`);
  // A live move of the tiny guest takes one to a few seconds: the second drag must land while
  // it runs. Where the move won the race (a dialog proposes the next move), it is dismissed
  // and the VM is moved on again, up to four times.
  let to = '';
  let refused = false;
  for (let attempt = 1; attempt <= 4 && !refused; attempt++) {
    const before = await placement();
    const from = before.vm1!;
    to = lanes.find((n) => n !== from && !Object.values(before).includes(n)) ?? lanes.find((n) => n !== from)!;
    const third = lanes.find((n) => n !== from && n !== to)!;
    await chip('vm1').dragTo(lane(to).locator('.lane-chips'));
    await expect(dialog).toContainText(`Move 1 VM to ${to}?`);
    await dialog.getByRole('button', { name: 'Move 1 VM' }).click();

    const badge = chip('vm1').locator('.transit-badge');
    await expect(badge).toBeVisible();
    await expect(badge).toHaveText(new RegExp(`^(moving|migrating) → ${to}$`));
    await expect(chip('vm1')).toHaveClass(/chip-transit-live/);
    if (attempt === 1) await shot('2-chip-in-transit');
    // Dragged while the move runs: the domain's rule refuses it, nothing is proposed.
    await chip('vm1').dragTo(lane(third).locator('.lane-chips'));
    // Three outcomes: refused (the drop landed during the move), a proposal (it landed after), or
    // nothing (the chip changed lanes under the pointer as the move ended, so the drop was lost).
    await expect(refusal.or(dialog).or(lane(to).locator(`.chip.chip-running[data-vm="${VC}/vm1"]`)).first()).toBeVisible({ timeout: 90_000 });
    // The running chip can show a moment before the refusal does: give the refusal its chance.
    await refusal.or(dialog).first().waitFor({ timeout: 3_000 }).catch(() => undefined);
    if (!(await refusal.isVisible()) && !(await dialog.isVisible())) {
      process.stderr.write(`attempt ${attempt}: the move to ${to} ended while the second drag was under way; again\n`);
      continue;
    }
    if (await refusal.isVisible()) {
      refused = true;
      await expect(refusal).toContainText(`${VC}/vm1 cannot move now.`);
      await expect(refusal).toContainText('it can move once that ends');
      await expect(dialog).toHaveCount(0);
      await shot('3-drag-refused');
    } else {
      process.stderr.write(`attempt ${attempt}: the move to ${to} ended before the second drag landed; again\n`);
      await dialog.getByRole('button', { name: 'Cancel' }).click();
    }
    await expect(lane(to).locator(`.chip[data-vm="${VC}/vm1"]`)).toHaveClass(/chip-running/, { timeout: 90_000 });
  }
  expect(refused, 'a drag landed while the move ran, and was refused').toBe(true);
  await expect(chip('vm1').locator('.transit-badge')).toHaveCount(0);
  const status = await vlxJson<VcStatusJson>('vc', 'status', VC);
  expect(status.actual.vm1).toEqual([to]);
});

test('dragging a lane onto another shows the evacuation plan; confirmed, the VMs run where it said', async () => {
  test.setTimeout(150_000);
  const where = await placement();
  const node = where.vm1!;
  const mine = Object.entries(where).filter(([, n]) => n === node).map(([vm]) => vm);
  const other = (await page.locator('.lane[data-node]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.node!))).find((n) => n !== node)!;
  await lane(node).locator('.lane-head').dragTo(lane(other).locator('.lane-chips'));
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText(`Evacuate ${node}:`);
  const rows = dialog.locator('ul[aria-label="Evacuation plan"] li');
  await expect(rows.first()).toBeVisible();
  const plan = await rows.evaluateAll((els) => els.map((e) => ({ vm: (e as HTMLElement).dataset.vm!, to: (e as HTMLElement).dataset.to!, action: (e as HTMLElement).dataset.action! })));
  const ours = plan.filter((p) => p.vm.startsWith(`${VC}/`));
  expect(ours.map((p) => p.vm.slice(VC.length + 1)).sort()).toEqual(mine.sort());
  for (const p of ours) {
    expect(p.action).toBe('live');
    expect(p.to).not.toBe(node);
    expect(p.to).not.toBe('');
  }
  // The fallback, as the CLI's --fallback: main plans again and each live row says what a failed migration becomes.
  await expect(rows.first()).toHaveAttribute('data-fallback', '');
  await dialog.getByRole('radiogroup', { name: 'When live migration is not to be had' }).getByText('Stop here, start there').click();
  for (const p of ours) await expect(dialog.locator(`li[data-vm="${p.vm}"]`)).toHaveAttribute('data-fallback', 'cold');
  await expect(dialog.locator(`li[data-vm="${ours[0]!.vm}"]`)).toContainText('if it fails: reboot there');
  await expect(dialog.locator(`li[data-vm="${ours[0]!.vm}"]`)).toHaveAttribute('data-action', 'live');
  await shot('4-evacuation-plan');
  // Nothing happened before the confirmation.
  expect((await vlxJson<VcStatusJson>('vc', 'status', VC)).actual[mine[0]!]).toEqual([node]);
  evacuated = node;
  await dialog.getByRole('button', { name: `Evacuate ${node}` }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expect(lane(node).locator('.evac-line, .badge', { hasText: /vacuat/ }).first()).toBeVisible();
  await shot('5-evacuating');

  for (const p of ours) await expect(lane(p.to).locator(`.chip[data-vm="${p.vm}"]`)).toBeVisible({ timeout: 120_000 });
  await expect(lane(node).locator(`.chip[data-vm^="${VC}/"]`)).toHaveCount(0);
  await expect(lane(node)).toContainText('maintenance', { timeout: 15_000 });
  await shot('6-evacuated');
  const status = await vlxJson<VcStatusJson>('vc', 'status', VC);
  for (const p of ours) {
    const vm = p.vm.slice(VC.length + 1);
    expect(status.actual[vm], vm).toEqual([p.to]);
    expect(status.vms.find((v) => v.name === vm)?.node).toBe(p.to);
  }
  expect(status.drift).toEqual([]);
  expect(errors).toEqual([]);
});
