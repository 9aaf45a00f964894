import { test, expect, type Locator, type Page } from '@playwright/test';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { labSsh, startGui, tempHome } from './support.js';

/**
 * The Install wizard and the Restore dialog in Debian's Chromium through `vlx gui`, against the
 * real lab: the lab example with each field checked by the service as it is typed (a bad
 * field named next to it), MACs typed and from a CSV file (a bad line reported, nothing
 * taken), an install of the example with its progress to the end, checked over SSH, then
 * the Restore dialog with the nodes and its typed confirmation. No machine is powered on
 * (that boot is the integration suite's). The base image is a stand-in of our own, and the
 * lab is left as found: the manifest, the services and shared storage.
 */
const run = promisify(execFile);
const shots = process.env.VLX_SCREENS ?? join(process.cwd(), 'test-results', 'screenshots');
mkdirSync(shots, { recursive: true });

const ROOT = '/srv/virtualinux';
const C = `e2ei${randomBytes(2).toString('hex')}`;
const IMAGE = `${C}-base`;
const MACS = ['52:54:4d:00:0e:41', '52:54:4d:00:0e:42', '52:54:4d:00:0e:43'];
const N1 = '10.77.0.1';
const home = tempHome();
const appHome = join(home.dir, 'app');
let bridge: Awaited<ReturnType<typeof startGui>>;
let page: Page;
const errors: string[] = [];
let manifestBefore = '';
let servicesBefore = false;
let bootFileBefore = false;
let labNodes: { name: string; address: string }[] = [];

async function vlx(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['dist/vlx.mjs', ...args], { env: { ...process.env, VLX_HOME: appHome }, timeout: 120_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

async function sh(cmd: string): Promise<string> {
  const r = await labSsh(N1, cmd);
  if (r.code !== 0) throw new Error(`${cmd}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** The screen scrolls inside its pane: what the shot is about is scrolled into view first. */
async function shot(name: string, about?: Locator) {
  await about?.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, `install-${name}.png`) });
}
const field = (path: string) => page.locator(`#i-${path.replace(/\./g, '-')}`);
/** The error shown next to a field: its Field's error line. */
const errorOf = (path: string) => page.locator(`#i-${path.replace(/\./g, '-')}-err`);
const check = () => page.getByTestId('install-check');
const installButton = () => page.locator('.install-side').getByRole('button', { name: 'Install', exact: true });

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  test.setTimeout(180_000);
  const up = await vlx('lab', 'up');
  if (up.code !== 0) process.stderr.write(`note: lab up: ${up.stderr.trim().split('\n').at(-1)}\n`);
  // A lab database made by an older vlx lacks the install's table.
  await vlx('db', 'migrate');
  const status = await vlx('lab', 'status', '--json');
  expect(status.code, status.stderr).toBe(0);
  labNodes = (JSON.parse(status.stdout) as { nodes: { name: string; address: string }[] }).nodes;
  manifestBefore = await sh(`cat ${ROOT}/manifest.json`);
  const services = await vlx('services', 'status', '--json');
  servicesBefore = services.code === 0 && (JSON.parse(services.stdout) as { nodes: { services: { state: string }[] }[] }).nodes
    .some((n) => n.services.some((s) => s.state === 'running'));
  bootFileBefore = (await sh(`test -e ${ROOT}/tftp/boot.ipxe && echo yes || echo no`)).trim() === 'yes';
  // A stand-in base image: the install copies its files; nothing here boots it.
  await sh([
    `qemu-img create -q -f qcow2 ${ROOT}/images/${IMAGE}.qcow2 64M`,
    `echo kernel > ${ROOT}/images/${IMAGE}.kernel`, `echo initrd > ${ROOT}/images/${IMAGE}.initrd`,
    `echo '{"name":"${IMAGE}","cmdline":"console=ttyS0 net.ifnames=0 rw root=/dev/vda"}' > ${ROOT}/images/${IMAGE}.json`,
  ].join(' && '));
  bridge = await startGui(appHome);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${m.text()} (${m.location().url})`); });
  await page.goto(bridge.url);
  await expect(page.locator('.statusbar')).toContainText('Cluster: lab');
});

test.afterAll(async () => {
  test.setTimeout(120_000);
  await page?.close();
  await bridge?.stop();
  // The lab as it was: our files gone, the manifest back, the services from that manifest.
  await sh([
    `rm -rf ${ROOT}/cluster/${C} ${ROOT}/tftp/${C} ${ROOT}/images/${IMAGE}.*`,
    `rm -f ${MACS.map((m) => `${ROOT}/tftp/nodes/${m.replace(/:/g, '-')}.ipxe`).join(' ')}`,
    ...(bootFileBefore ? [] : [`rm -f ${ROOT}/tftp/boot.ipxe`, `rmdir ${ROOT}/tftp/nodes 2>/dev/null || true`]),
  ].join('; ')).catch((e) => process.stderr.write(`cleanup: ${String(e)}\n`));
  if (manifestBefore) {
    await sh(`echo ${Buffer.from(manifestBefore).toString('base64')} | base64 -d > ${ROOT}/manifest.json`).catch((e) => process.stderr.write(`cleanup: manifest: ${String(e)}\n`));
    const s = await vlx('services', servicesBefore ? 'deploy' : 'stop');
    if (s.code !== 0) process.stderr.write(`cleanup: services: ${s.stderr}\n`);
  }
  home.cleanup();
});

test('the wizard starts from the lab example and checks each field as it is typed', async () => {
  await page.locator('button.nav[data-screen="install"]').click();
  await expect(page.getByRole('heading', { name: 'Install', exact: true })).toBeVisible();
  // Every field with its value or default, from the service's answer to the example.
  await expect(field('container')).toHaveValue('lab');
  await expect(field('sizes.rootMb')).toHaveValue('5120');
  await expect(field('network.boot.firstIp')).toHaveValue('10.77.0.101');
  await expect(field('network.modules')).toHaveValue('e1000');
  await expect(page.locator('table[aria-label="nodes"] tbody tr')).toHaveCount(3);
  await expect(check()).not.toHaveAttribute('data-state', 'checking');
  await shot('01-example');

  // A malformed address: the schema's rule, next to the field it names.
  await field('network.boot.firstIp').fill('10.77.0.300');
  await expect(errorOf('network.boot.firstIp')).toHaveText('must be an IPv4 address like 10.77.0.101');
  await expect(check()).toHaveText('1 error to fix');
  await expect(installButton()).toBeDisabled();
  await field('network.boot.firstIp').fill('10.77.0.101');
  // A rule across fields: the spare address inside the node range.
  await field('gateway.spare').fill('10.77.0.102');
  await expect(errorOf('gateway.spare')).toHaveText('must not be in the node range 10.77.0.101-10.77.0.103');
  await expect(errorOf('network.boot.firstIp')).toHaveCount(0);
  await shot('02-validation', errorOf('gateway.spare'));
  await field('gateway.spare').fill('10.77.0.253');
  // A size typed as words: sent as text, refused by the service's rule.
  await field('sizes.rootMb').fill('5 GB');
  await expect(errorOf('sizes.rootMb')).toHaveText('must be a whole number of MB from 512 to 1048576');
  for (const [p, v] of [['sizes.rootMb', '512'], ['sizes.swapMb', '16'], ['sizes.sharedMb', '16'], ['container', C], ['baseImage', IMAGE]] as const) await field(p).fill(v);
  await expect(check()).toHaveAttribute('data-state', 'ok');
});

test('MACs typed and from a CSV file: each bad entry or line named, nothing taken from a bad file', async () => {
  await page.getByRole('tab', { name: 'Type or paste' }).click();
  await page.locator('#mac-typed').fill('zz:zz, 52-54-4D-00-0E-44');
  await page.getByRole('button', { name: 'Add these MACs' }).click();
  await expect(page.getByTestId('mac-errors')).toContainText('entry 1 (zz:zz): must be a MAC address like 52:54:4d:00:01:01');
  await expect(page.locator('table[aria-label="nodes"] tbody tr')).toHaveCount(3);
  await page.locator('#mac-typed').fill('52-54-4D-00-0E-44');
  await page.getByRole('button', { name: 'Add these MACs' }).click();
  await expect(page.locator('tr[data-node="4"] input[aria-label="node 4 MAC"]')).toHaveValue('52:54:4d:00:0e:44');
  // Four MACs for three nodes: the list's own rule, above the list.
  await expect(page.getByTestId('nodes-error')).toHaveText('must list nodeCount (3) MAC addresses; 4 given');

  await page.getByRole('tab', { name: 'From a CSV file' }).click();
  const bad = `ordinal,mac,hostname\n1,${MACS[0]}\n2,52:54:4d:00:0e:4g\n3,${MACS[2]}\n`;
  await page.getByTestId('mac-csv-file').setInputFiles({ name: 'macs.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
  await expect(page.getByTestId('mac-errors')).toContainText('line 3:');
  await expect(page.locator('table[aria-label="nodes"] tbody tr')).toHaveCount(4);
  await shot('03-csv-bad-line', page.getByTestId('mac-errors'));
  const good = `ordinal,mac,hostname\n1,${MACS[0]}\n2,${MACS[1]},${C}-b\n3,${MACS[2]}\n`;
  await page.getByTestId('mac-csv-file').setInputFiles({ name: 'macs.csv', mimeType: 'text/csv', buffer: Buffer.from(good) });
  await expect(page.getByTestId('mac-errors')).toHaveCount(0);
  const rows = page.locator('table[aria-label="nodes"] tbody tr');
  await expect(rows).toHaveCount(3);
  for (const [i, mac] of MACS.entries()) await expect(rows.nth(i).locator('input').nth(1)).toHaveValue(mac);
  await expect(rows.nth(1).locator('input').first()).toHaveValue(`${C}-b`);
  await expect(page.getByTestId('nodes-error')).toHaveCount(0);
  await expect(check()).toHaveAttribute('data-state', 'ok');
  // The plan's addresses, from the service.
  await expect(rows.nth(2)).toContainText('10.77.0.103');
  await shot('04-macs', page.locator('table[aria-label="nodes"]'));
});

test('Install runs the task with its progress to the end; the nodes\' boot entries are on the lab', async () => {
  test.setTimeout(90_000);
  await page.evaluate(() => {
    const w = window as unknown as { __seen: number[] };
    w.__seen = [];
    new MutationObserver(() => {
      const v = Number(document.querySelector('[role=progressbar][aria-label="Install progress"]')?.getAttribute('aria-valuenow') ?? NaN);
      if (!Number.isNaN(v) && w.__seen[w.__seen.length - 1] !== v) w.__seen.push(v);
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow'] });
  });
  await installButton().click();
  const progress = page.locator('.install-side .task-progress');
  await expect(progress).toBeVisible();
  await shot('05-installing');
  await expect(progress).toHaveAttribute('data-state', 'succeeded', { timeout: 75_000 });
  await expect(progress.locator('.log-tail')).not.toBeEmpty();
  await shot('06-installed');
  const seen = await page.evaluate(() => (window as unknown as { __seen: number[] }).__seen);
  // Seen moving, not only at its ends: the bar follows the steps.
  expect(seen.some((v) => v > 0 && v < 100), JSON.stringify(seen)).toBe(true);
  expect(seen[seen.length - 1]).toBe(100);
  // Seen for ourselves over SSH: each node's root overlays the original, its boot entry names it.
  const info = JSON.parse(await sh(`qemu-img info -U --output=json ${ROOT}/cluster/${C}/node2.qcow2`)) as { 'backing-filename': string };
  expect(info['backing-filename']).toBe(`${ROOT}/cluster/${C}/original.qcow2`);
  expect(await sh(`cat ${ROOT}/tftp/nodes/${MACS[1]!.replace(/:/g, '-')}.ipxe`)).toContain(`sifip=10.77.0.102`);
});

test('automatic MACs: machines asking the boot network are listed in order, each confirmed as the next node', async () => {
  // The service reads the DHCP log of the node in use from a cursor (the install deployed its
  // DHCP server). Machines asking for an address are stood in for by the lines dnsmasq writes
  // for them: no machine boots here.
  await page.getByRole('tab', { name: 'Automatic' }).click();
  await page.getByRole('button', { name: 'Start watching' }).click();
  const watching = page.getByText(/Watching the DHCP log of n\d+/);
  await expect(watching).toBeVisible();
  const node = (await watching.textContent())!.match(/of (n\d+)/)![1]!;
  const address = labNodes.find((n) => n.name === node)!.address;
  const discover = (mac: string) => `$(date '+%b %e %T') dnsmasq-dhcp[1]: DHCPDISCOVER(vlx0) ${mac} no address available`;
  expect((await labSsh(address, `printf '%s\\n' "${discover('52:54:4d:00:0e:51')}" "${discover('52:54:4d:00:0e:52')}" >> /run/virtualinux/dnsmasq.log`)).code).toBe(0);
  const seen = page.locator('ul[aria-label="MACs seen"] li');
  await expect(seen).toHaveCount(2);
  await expect(seen.nth(0)).toContainText('4 52:54:4d:00:0e:51');
  await expect(seen.nth(1)).toContainText('5 52:54:4d:00:0e:52');
  await shot('07-automatic', seen.last());
  await seen.nth(0).getByRole('button', { name: 'Confirm as node 4' }).click();
  await seen.nth(0).getByRole('button', { name: 'Not a node' }).click();
  await expect(seen).toHaveCount(0);
  await expect(page.locator('tr[data-node="4"] input[aria-label="node 4 MAC"]')).toHaveValue('52:54:4d:00:0e:51');
  await page.getByRole('button', { name: 'Stop watching' }).click();
});

test('the Restore dialog shows the nodes and refuses a reset until the container\'s name is typed', async () => {
  test.setTimeout(60_000);
  await page.locator('.screen-install .toolbar').getByRole('button', { name: 'Restore…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Restore the disk-less cluster' });
  await expect(dialog.getByTestId('restore-container')).toHaveText(C);
  const nodes = dialog.locator('table[aria-label="installed nodes"] tbody tr');
  await expect(nodes).toHaveCount(3);
  await expect(nodes.nth(1)).toContainText(`${C}-b`);
  await expect(nodes.nth(1)).toContainText('10.77.0.102');
  await dialog.locator('.restore-choice', { hasText: 'Reset one node' }).click();
  await dialog.locator('#restore-node').selectOption('2');
  const go = dialog.getByRole('button', { name: 'Reset node 2' });
  await expect(go).toBeDisabled();
  await dialog.locator('#restore-confirm').fill('lab');
  await expect(go).toBeDisabled();
  await shot('08-restore-confirm');
  // Rebuilding the configuration destroys nothing: no confirmation, and it runs to the end.
  await dialog.locator('.restore-choice', { hasText: 'Rebuild configuration' }).click();
  await expect(dialog.locator('#restore-confirm')).toHaveCount(0);
  await dialog.getByRole('button', { name: 'Rebuild configuration' }).click();
  await expect(dialog.locator('.task-progress')).toHaveAttribute('data-state', 'succeeded', { timeout: 45_000 });
  await shot('09-restore-rebuilt');
  expect(errors).toEqual([]);
});
