import { test, expect, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startGui } from './support.js';
import { labApp, screensDir } from './support/lab-app.js';

/**
 * The Experiments screen against the real lab, in Debian's Chromium through `vlx gui`: one
 * short run of each kind (mpi included) on a 2-VM VC of the bench image (made here through the CLI, destroyed
 * at the end), then the screen draws each kind's charts from the cluster database, warns that
 * TCG numbers are not representative when the lab runs under TCG, and each chart's CSV is
 * exactly what `vlx experiment export` gives for the runs it shows; its PNG is a PNG.
 */
const shots = screensDir();
const app = labApp();
const { appHome, vlx } = app;
const VC = `exp${randomBytes(3).toString('hex')}`;
let bridge: Awaited<ReturnType<typeof startGui>>;
let page: Page;
const errors: string[] = [];
const runIds: Record<string, number> = {};
let accel = '';

interface RunJson { id: number; kind: string; vc: string; accel: string }

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  test.setTimeout(420_000);
  const up = await vlx('lab', 'up');
  if (up.code !== 0) process.stderr.write(`note: lab up: ${up.stderr.trim().split('\n').at(-1)}\n`);
  expect((await vlx('db', 'migrate')).code).toBe(0);
  const images = JSON.parse((await vlx('image', 'list', '--json')).stdout) as { name: string }[];
  if (!images.some((i) => i.name === 'tiny-bench')) {
    const built = await vlx('image', 'build', 'tiny-bench');
    expect(built.code, built.stderr).toBe(0);
  }
  const created = await vlx('vc', 'create', VC, '--nodes', '2', '--vcpus', '1', '--mem-mb', '256', '--disk-gb', '1', '--swap-mb', '0', '--image', 'tiny-bench');
  expect(created.code, created.stderr).toBe(0);
  const started = await vlx('vc', 'start', VC, '--policy', 'cyclic', '--mode', 'free');
  expect(started.code, started.stderr).toBe(0);
  for (const kind of ['os-overhead', 'network', 'storage', 'mpi']) {
    const t0 = Date.now();
    const r = await vlx('experiment', 'run', kind, '--vc', VC, '--seconds', '1');
    process.stderr.write(`experiment ${kind}: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    expect(r.code, r.stderr).toBe(0);
  }
  const list = JSON.parse((await vlx('experiment', 'list', '--json')).stdout) as RunJson[];
  for (const r of list.filter((x) => x.vc === VC)) runIds[r.kind] ??= r.id;
  accel = list.find((x) => x.vc === VC)!.accel;
  // The runs are stored: the VC is not needed for the charts.
  const gone = await vlx('vc', 'destroy', VC);
  if (gone.code !== 0) process.stderr.write(`cleanup: vc destroy ${VC} failed: ${gone.stderr}\n`);
  bridge = await startGui(appHome);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${m.text()} (${m.location().url})`); });
  await page.goto(bridge.url);
  await expect(page.locator('.statusbar')).toContainText('Cluster: lab');
  await page.locator('button.nav[data-screen="experiments"]').click();
  await expect(page.getByRole('heading', { name: 'Experiments', exact: true })).toBeVisible();
});

test.afterAll(async () => {
  await vlx('vc', 'destroy', VC);
  await page?.close();
  await bridge?.stop();
  app.cleanup();
});

/** Only this file's run of the kind on its charts: the lab's database holds other files' runs too. */
async function showOnly(kind: string): Promise<void> {
  const section = page.locator(`section[data-kind="${kind}"]`);
  await expect(section.locator(`input[data-run="${runIds[kind]}"]`)).toBeVisible();
  for (const box of await section.locator('input[type=checkbox][data-run]').all()) {
    const mine = (await box.getAttribute('data-run')) === String(runIds[kind]);
    if ((await box.isChecked()) !== mine) await box.click();
  }
}

/** A canvas with something drawn on it (not all transparent). */
async function drawn(sel: string): Promise<boolean> {
  return page.locator(sel).evaluate((c: HTMLCanvasElement) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
    return false;
  });
}

async function csvOf(chart: string): Promise<string> {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.locator(`figure[data-chart="${chart}"] button[data-export="csv"]`).click()]);
  return readFileSync((await dl.path())!, 'utf8');
}

test('each kind draws its charts from the stored runs, with the TCG banner under emulation', async () => {
  for (const kind of ['os-overhead', 'network', 'storage', 'mpi']) await showOnly(kind);
  for (const chart of ['os-overhead', 'network-bandwidth', 'network-latency', 'storage', 'mpi-latency', 'mpi-bandwidth', 'mpi-allreduce']) {
    const canvas = `figure[data-chart="${chart}"] canvas`;
    await expect(page.locator(canvas)).toBeVisible();
    expect(await drawn(canvas), `${chart} has something drawn`).toBe(true);
  }
  await expect(page.locator('section[data-kind="os-overhead"] .exp-ratios')).toContainText('cpu');
  await expect(page.locator('section[data-kind="storage"] .exp-ratios')).toContainText('seqwr');
  const banners = page.getByTestId('tcg-banner');
  if (accel === 'tcg') await expect(banners.first()).toContainText('absolute numbers are not representative');
  else await expect(banners).toHaveCount(0);
  await page.locator('section[data-kind="os-overhead"]').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, 'experiments-os-overhead.png') });
  await page.locator('section[data-kind="network"]').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, 'experiments-network.png') });
  await page.locator('section[data-kind="storage"]').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, 'experiments-storage.png') });
  await page.locator('figure[data-chart="mpi-latency"]').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, 'experiments-mpi.png') });
  await page.locator('figure[data-chart="mpi-allreduce"]').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, 'experiments-mpi-allreduce.png') });
  // Several runs of one kind on one chart: an earlier run ticked as well adds its bars.
  const os = page.locator('section[data-kind="os-overhead"]');
  const other = os.locator(`input[type=checkbox][data-run]:not([data-run="${runIds['os-overhead']}"])`).first();
  if (await other.count()) {
    await other.click();
    await expect(os.locator('.exp-ratios tbody tr')).toHaveCount(2);
    expect(await drawn('figure[data-chart="os-overhead"] canvas')).toBe(true);
    await os.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, 'experiments-os-overhead-two-runs.png') });
    await other.click();
  }
});

test('a chart\'s CSV is the rows `vlx experiment export` gives; its PNG is an image', async () => {
  const os = (await vlx('experiment', 'export', String(runIds['os-overhead']), '--csv')).stdout;
  expect(os.split('\r\n').length).toBeGreaterThan(8);
  expect(await csvOf('os-overhead')).toBe(os);
  const storage = (await vlx('experiment', 'export', String(runIds.storage), '--csv')).stdout;
  expect(await csvOf('storage')).toBe(storage);
  // The network's latency chart holds its latency rows only: the export's lines of that probe.
  const net = (await vlx('experiment', 'export', String(runIds.network), '--csv')).stdout.split('\r\n');
  const latency = [net[0], ...net.filter((l) => l.split(',')[2] === 'latency')].join('\r\n') + '\r\n';
  expect(await csvOf('network-latency')).toBe(latency);
  // mpi: the allreduce chart's rows, ordered as stored.
  const mpi = (await vlx('experiment', 'export', String(runIds.mpi), '--csv')).stdout.split('\r\n');
  const allreduce = [mpi[0], ...mpi.filter((l) => l.split(',')[2] === 'allreduce')].join('\r\n') + '\r\n';
  expect(await csvOf('mpi-allreduce')).toBe(allreduce);
  const [png] = await Promise.all([page.waitForEvent('download'), page.locator('figure[data-chart="network-bandwidth"] button[data-export="png"]').click()]);
  const bytes = readFileSync((await png.path())!);
  expect(bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  expect(errors).toEqual([]);
});
