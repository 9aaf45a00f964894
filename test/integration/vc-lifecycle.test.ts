import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { cleanUpTestVcs, ensureVcLab, expectOk, guestRun, leftovers, onNode, testVc, vcService, vlx } from './vc-support.js';
import type { VcService } from '../../main/service/vcCore.js';
import { tapName } from '../../main/domain/addressing.js';

/**
 * The whole life of a VC on the real 4-node lab with the tiny guest: create → start cyclic
 * on 4 nodes → QEMU where the DB says → VMs ping each other across nodes → stop → destroy
 * leaves nothing. Plus bad input, refused before anything is written.
 */
let s: VcService;
const LIFE = testVc('life');
const BAD = testVc('bad-x');
// TCG guests on a 2-core machine shared with other suites: booting is slow but bounded.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

beforeAll(async () => {
  await ensureVcLab();
  s = vcService();
});
// Every test VC goes, whether or not a test failed midway; anything left fails the run.
afterAll(async () => {
  try {
    await cleanUpTestVcs(s);
  } finally {
    await s?.close();
  }
});

describe('bad input: clear errors, nothing created', () => {
  const base = { name: BAD, nodes: 2, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' };
  test.each([
    ['shell metacharacters', { name: 'a;reboot' }, 'invalid-input', /name: must be 1-24 chars/],
    ['too long', { name: 'a'.repeat(25) }, 'invalid-input', /name: must be 1-24 chars/],
    ['--nodes 0', { nodes: 0 }, 'invalid-input', /nodes: must be a whole number from 1 to 256/],
    ['memory larger than any node', { memMb: 1_000_000 }, 'invalid-input', /memMb: must fit in one node: the largest node memory is \d+ MB/],
    ['unknown image', { image: 'nosuch' }, 'invalid-input', /image: must be a known image \(.*tiny.*\)/],
    ['subnet overlapping the lab network', { subnet: '10.77.0.0/24' }, 'invalid-input', /subnet: must not overlap 10\.77\.0\.0\/24/],
  ])('%s', async (_what, patch, code, message) => {
    const err = await s.createVc({ ...base, ...patch }).then(() => undefined, (e: unknown) => e as { code: string; message: string });
    expect(err?.code).toBe(code);
    expect(err?.message).toMatch(message);
    expect((await s.listVcs()).map((v) => v.name)).not.toContain(BAD);
  });

  test('the CLI says the same and exits 2', async () => {
    const r = await vlx(['vc', 'create', 'x$(id)', '--nodes', '1', '--vcpus', '1', '--mem-mb', '64', '--disk-gb', '1', '--image', 'tiny']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/NAME: must be/);
  });
});

describe('create → start cyclic → ping across nodes → stop → destroy', () => {
  test('a 4-VM VC lives and leaves nothing behind', async () => {
    expectOk(await s.createVc({ name: LIFE, nodes: 4, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 16, image: 'tiny', subnet: 'auto' }));
    const created = (await s.listVcs()).find((v) => v.name === LIFE);
    expect(created?.state).toBe('stopped');
    expect(created?.vms.map((v) => v.name)).toEqual(['vm1', 'vm2', 'vm3', 'vm4']);
    const subnet = created!.subnet;
    const prefix = subnet.split('.').slice(0, 3).join('.') + '.';
    // A subnet overlapping another VC's is refused before anything is written.
    const clash = await s.createVc({ name: BAD, nodes: 1, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet })
      .then(() => undefined, (e: unknown) => e as { code: string; message: string });
    expect(clash?.code).toBe('conflict');
    expect(clash?.message).toMatch(new RegExp(`subnet: ${subnet.replace(/\./g, '\\.')} overlaps .*VC ${LIFE}`));
    expect((await s.listVcs()).map((v) => v.name)).not.toContain(BAD);

    // The disks are overlays of the image: the backing chain says so.
    const tree = await s.volumesTree();
    const img = tree.find((t) => t.path.endsWith('/images/tiny.qcow2'));
    expect(img?.children.filter((c) => c.usedBy?.startsWith(`${LIFE}/`)).length).toBe(4);

    const log: string[] = [];
    expectOk(await s.startVc(LIFE, 'cyclic', 'strict', { onEvent: (e) => { if (e.type === 'log') log.push(e.line); } }));
    // Each guest's own clock at the stages of its init from its identity (a warm start, the
    // default: main/vm/warmStart.ts), in order, shared storage included.
    for (const vm of ['vm1', 'vm2', 'vm3', 'vm4']) {
      const m = log.map((l) => new RegExp(`${LIFE}/${vm}: running on n\\d \\(guest ready; warm start; guest clock from its identity: network \\+(\\S+) s, shared mounted \\+(\\S+) s, ready \\+(\\S+) s\\)`).exec(l)).find(Boolean);
      expect(m, `${vm}'s stage times in the start's log:\n${log.join('\n')}`).toBeTruthy();
      const t = m!.slice(1).map(Number);
      expect([...t].sort((a, b) => a - b)).toEqual(t);
    }
    const st = await s.vcStatus(LIFE);
    expect(st.state).toBe('running');
    expect(st.vms.map((v) => v.node)).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(st.drift).toEqual([]);
    // Each VM's QEMU runs on the node the DB says, and only there.
    for (const v of st.vms) {
      const r = await onNode(v.node!, `cat /run/virtualinux/vm/${LIFE}/${v.name}.pid | xargs -I{} sh -c 'test -d /proc/{} && echo alive'`);
      expect(r.stdout.trim()).toBe('alive');
      expect(st.actual[v.name]).toEqual([v.node]);
    }
    // Each tap answers its guest's ARP for a peer at once (Linux's default proxy_delay held such
    // answers up to 0.8 s: VM↔VM pings of 200–500 ms); the first ping's time is logged.
    for (const v of st.vms) {
      expect((await onNode(v.node!, `cat /proc/sys/net/ipv4/neigh/${tapName(v.address)}/proxy_delay`)).stdout.trim()).toBe('0');
    }
    const first = await guestRun(s, LIFE, 'vm2', `ping -c 1 -W 2 ${st.vms[2].address} | grep time=`);
    process.stderr.write(`first VM↔VM ping across nodes (ARP included): ${first.output.trim()}\n`);
    // Across nodes: vm1 (n1) reaches vm3 (n3) and vm4 (n4); a node reaches a VM it does not host.
    const ping = await guestRun(s, LIFE, 'vm1', `ping -c 3 -W 2 ${st.vms[2].address} >/tmp/p && ping -c 3 -W 2 ${st.vms[3].address} >/tmp/p`);
    expect(ping.code).toBe(0);
    expect((await onNode('n2', `busybox ping -c 1 -W 3 ${st.vms[3].address}`)).code).toBe(0);
    // VC-wide shared storage: what vm4 writes on n4, vm1 reads on n1; it lands in the VC's directory.
    expect((await guestRun(s, LIFE, 'vm4', 'echo written-on-n4 > /shared/hello')).code).toBe(0);
    expect((await guestRun(s, LIFE, 'vm1', 'cat /shared/hello')).output).toContain('written-on-n4');
    expect((await onNode('n2', `cat /srv/virtualinux/vc/${LIFE}/shared/hello`)).stdout).toBe('written-on-n4\n');

    expectOk(await s.stopVc(LIFE, { timeoutS: 20 }));
    const stopped = await s.vcStatus(LIFE);
    expect(stopped.state).toBe('stopped');
    expect(stopped.vms.every((v) => v.node === undefined && v.state === 'stopped')).toBe(true);
    expect(Object.keys(stopped.actual)).toEqual([]);

    expectOk(await s.destroyVc(LIFE));
    expect((await s.listVcs()).map((v) => v.name)).not.toContain(LIFE);
    const left = await leftovers(LIFE, prefix);
    // Other VCs may have taps of their own; only this VC's taps count.
    const ours = new Set(st.vms.map((v) => tapName(v.address)));
    expect(left.filter((l) => !l.includes(': tap: ') || ours.has(l.split(': tap: ')[1]))).toEqual([]);
    const rows = await s.env.db.query(`select (select count(*) from vms where vc = $1)::int + (select count(*) from volumes where vc = $1)::int
      + (select count(*) from mapping where vc = $1)::int as n`, [LIFE]);
    expect(rows.rows[0].n).toBe(0);
  });
});

describe('placement on the lab: block/cyclic × strict/free', () => {
  test.each([
    ['block', 'strict', ['n1', 'n1', 'n1', 'n1']],
    ['cyclic', 'strict', ['n1', 'n2', 'n3', 'n4']],
    ['block', 'free', ['n1', 'n1', 'n1', 'n1']],
    ['cyclic', 'free', ['n1', 'n2', 'n3', 'n4']],
  ] as const)('%s/%s', async (policy, mode, want) => {
    // The VMs only need to be placed, not booted: the start's placement step decides the mapping.
    const name = testVc(`pl-${policy}-${mode}`);
    if ((await s.listVcs()).some((v) => v.name === name)) expectOk(await s.destroyVc(name));
    expectOk(await s.createVc({ name, nodes: 4, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }));
    try {
      expectOk(await s.startVc(name, policy, mode));
      const st = await s.vcStatus(name);
      expect(st.vms.map((v) => v.node)).toEqual(want);
      expect(st.drift).toEqual([]);
    } finally {
      expectOk(await s.destroyVc(name));
    }
  });

  test('strict refuses with the shortfall named; nothing is started', async () => {
    const name = testVc('pl-short');
    if ((await s.listVcs()).some((v) => v.name === name)) expectOk(await s.destroyVc(name));
    expectOk(await s.createVc({ name, nodes: 5, vcpus: 4, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }));
    try {
      const t = await s.startVc(name, 'cyclic', 'strict');
      expect(t.state).toBe('failed');
      expect(t.error?.code).toBe('placement');
      expect(t.error?.message).toMatch(/strict placement needs 20 free cores for 5 VMs; only \d+ free/);
      expect(Object.keys((await s.vcStatus(name)).actual)).toEqual([]);
    } finally {
      expectOk(await s.destroyVc(name));
    }
  });
});
