import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { cleanUpTestVcs, ensureVcLab, expectOk, guestRun, leftovers, onNode, testVc, vcService } from '../integration/vc-support.js';
import { getCluster } from '../../main/config/clusters.js';
import { buildDebian } from '../../main/images/debian.js';
import { publishImage, readImageMeta } from '../../main/images/library.js';
import type { VcService } from '../../main/service/vcCore.js';
import { tapName } from '../../main/domain/addressing.js';

/**
 * The one test with the full Debian guest (debootstrap once, then a minute or more per boot
 * under TCG): a Debian VC through the real workflows on the lab. cloud-init gives each VM
 * its address, name and own host keys and lets the app's key in; the VC's shared storage
 * (NFS from every node) is mounted by fstab, shared across nodes, and survives a live
 * migration; stop is a clean ACPI shutdown; destroy leaves nothing.
 */
const run = promisify(execFile);
const VC = testVc('debvc');
let s: VcService;
const work = mkdtempSync('/tmp/vlx-debvc-');
vi.setConfig({ testTimeout: 1_800_000, hookTimeout: 1_800_000 });

beforeAll(async () => {
  await ensureVcLab();
  s = vcService();
  const conn = await s.env.session.any();
  if (!(await readImageMeta(conn, 'debian-12').catch(() => undefined))) {
    const built = await buildDebian({ log: (l) => console.log(`debian-12: ${l}`) });
    await publishImage(conn, { meta: built.meta, files: built.files });
  }
});

afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  // The VC goes even if a test failed midway; a failed destroy or anything left fails the run.
  try {
    await cleanUpTestVcs(s);
  } finally {
    await s?.close();
  }
});

/** ssh as root with the app's cluster key, the VM's host key learned on first contact and then checked. */
async function ssh(ip: string, command: string): Promise<string> {
  const key = getCluster('lab').keyFile;
  if (!key) throw new Error('the lab cluster has no key file');
  const r = await run('ssh', ['-i', key, '-o', `UserKnownHostsFile=${join(work, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=accept-new',
    '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20', `root@${ip}`, command], { timeout: 120_000 });
  return r.stdout;
}

async function taskLog(taskId: string): Promise<string[]> {
  const r = await s.env.db.query<{ line: string }>('select line from task_log where task_id = $1 order by id', [taskId]);
  return r.rows.map((x) => x.line);
}

describe('a Debian VC on the lab', () => {
  test('identity from cloud-init, the app\'s key, shared storage across nodes and a live migration, clean stop, nothing left', async () => {
    expectOk(await s.createVc({ name: VC, nodes: 2, vcpus: 1, memMb: 512, diskGb: 4, swapMb: 0, image: 'debian-12', subnet: 'auto' }));
    // Running means each guest said it is up (its marker on the serial console, after cloud-init).
    expectOk(await s.startVc(VC, 'cyclic', 'free'));
    const st = await s.vcStatus(VC);
    expect(st.vms.map((v) => v.node)).toEqual(['n1', 'n2']);
    const [vm1, vm2] = st.vms;
    const gateway = st.subnet.replace(/\.0\/\d+$/, '.1');

    const seen = [];
    for (const vm of st.vms) {
      const out = (await ssh(vm.address, 'hostname; findmnt -n -o FSTYPE,SOURCE /shared; cut -d" " -f1,2 /etc/ssh/ssh_host_ed25519_key.pub; cat /etc/machine-id')).trim().split('\n');
      expect(out[0]).toBe(vm.name);
      expect(out[1].split(/\s+/)).toEqual(['nfs', `${gateway}:/vc/${VC}`]);
      seen.push({ hostKey: out[2], machineId: out[3] });
    }
    expect(seen[0].hostKey).toMatch(/^ssh-ed25519 AAAA/);
    expect(seen[0].hostKey).not.toBe(seen[1].hostKey);
    expect(seen[0].machineId).not.toBe(seen[1].machineId);

    // Written on n1, read on n2, stored in the VC's directory on shared storage.
    await ssh(vm1.address, 'echo from-vm1 > /shared/notes');
    expect(await ssh(vm2.address, 'cat /shared/notes')).toBe('from-vm1\n');
    expect((await onNode('n3', `cat /srv/virtualinux/vc/${VC}/shared/notes`)).stdout).toBe('from-vm1\n');

    // Live migration of vm2 to n3: same boot, same mount, writes go on.
    const boot = (await ssh(vm2.address, 'cat /proc/sys/kernel/random/boot_id')).trim();
    const [moved] = await s.moveVms([{ vc: VC, vm: 'vm2', to: 'n3' }]);
    expect(moved).toMatchObject({ ok: true, action: 'migrate' });
    expect((await ssh(vm2.address, 'cat /proc/sys/kernel/random/boot_id')).trim()).toBe(boot);
    await ssh(vm2.address, 'echo from-vm2-on-n3 >> /shared/notes');
    expect(await ssh(vm1.address, 'cat /shared/notes')).toBe('from-vm1\nfrom-vm2-on-n3\n');
    // The serial console (root autologin) follows the VM too.
    expect((await guestRun(s, VC, 'vm2', 'hostname', 60_000)).output).toContain('vm2');

    // ACPI power button → systemd shuts down (unmounting the share) before the deadline.
    const stop = expectOk(await s.stopVc(VC, { timeoutS: 300 }));
    const log = await taskLog(stop.id);
    expect(log.filter((l) => l.includes('shut down cleanly'))).toHaveLength(2);
    expect(log.join('\n')).not.toMatch(/stopping it hard/);

    expectOk(await s.destroyVc(VC));
    const prefix = st.subnet.split('.').slice(0, 3).join('.') + '.';
    const ours = new Set(st.vms.map((v) => tapName(v.address)));
    expect((await leftovers(VC, prefix)).filter((l) => !l.includes(': tap: ') || ours.has(l.split(': tap: ')[1]))).toEqual([]);
  });
});
