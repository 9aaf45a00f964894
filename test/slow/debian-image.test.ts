// The full Debian guest: debootstrap (minutes) and ~1 min per boot under TCG. Kept out of
// `npm test` until it has been seen to boot here; run it with `npm run test:slow`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VlxError } from '../../main/errors.js';
import { importImage, inspectImport } from '../../main/images/importImage.js';
import { imageInfo, listImages, publishImage, uploadFile, volumesUsing } from '../../main/images/library.js';
import { localRunner } from '../../main/images/local.js';
import { renderMetaData, renderNetworkConfig, renderUserData, seedCommand, type SeedInput } from '../../main/images/nocloud.js';
import { buildTiny, TINY_BOOT_MODULES, type BuiltImage } from '../../main/images/tiny.js';
import { SHARED_ROOT } from '../../main/config/paths.js';
import { openCurrentCluster } from '../../main/cluster/session.js';
import { sh } from '../../main/util/quote.js';
import { KVM_CACHE, probeKvm, probeNodeKvm, type KvmVerdict } from '../../main/vm/kvmProbe.js';
import { buildDebian } from '../../main/images/debian.js';
import { qemuArgs } from '../../main/vm/qemuArgs.js';
import { QmpClient, systemPowerdown } from '../../main/vm/qmp.js';
import { READY_MARKER, SerialConsole } from '../../main/vm/serial.js';
import { unixSocket } from '../support/unixSocket.js';


const run = localRunner();
const work = mkdtempSync(join(tmpdir(), 'vlximg-'));



afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('debian-12 guest (slow: debootstrap once, then ~1 min per boot under TCG)', () => {
  const ns = `vlxtest-deb${process.pid % 100000}`;
  const pidFiles: string[] = [];
  let deb: BuiltImage;
  let accel: KvmVerdict;

  beforeAll(async () => {
    deb = await buildDebian();
    accel = await probeKvm(run, { kernel: deb.files.kernel, initrd: deb.files.initrd, runDir: work, cacheFile: join(work, 'kvm.json') });
    const inNs = (...argv: string[]): string => `${sh('ip', 'netns', 'exec', ns)} ${sh(...argv)}`;
    await run.run([
      sh('ip', 'netns', 'add', ns),
      inNs('ip', 'link', 'set', 'lo', 'up'),
      inNs('ip', 'link', 'add', 'vlxbr0', 'type', 'bridge'),
      inNs('ip', 'addr', 'add', '10.200.251.1/24', 'dev', 'vlxbr0'),
      inNs('ip', 'link', 'set', 'vlxbr0', 'up'),
      ...[1, 2].flatMap((i) => [
        inNs('ip', 'tuntap', 'add', 'dev', `vlxd${i}`, 'mode', 'tap'),
        inNs('ip', 'link', 'set', `vlxd${i}`, 'master', 'vlxbr0'),
        inNs('ip', 'link', 'set', `vlxd${i}`, 'up'),
      ]),
    ].join(' && '));
  }, 1_800_000);

  afterAll(async () => {
    for (const p of pidFiles) await run.exec(`kill -9 "$(cat ${sh(p)} 2>/dev/null)" 2>/dev/null`);
    await run.exec(sh('ip', 'netns', 'del', ns));
  });

  it('boots two VMs from one template with their own address, hostname, machine id and sshd host keys, reachable by ssh with checked keys, and powers off on ACPI', async () => {
    expect(deb.meta).toMatchObject({ name: 'debian-12', kind: 'kernel', guest: 'debian', seed: 'nocloud', rootDevice: '/dev/vda' });
    const key = join(work, 'id_ed25519');
    await run.run(sh('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', key));
    const pub = (await run.run(sh('cat', `${key}.pub`))).trim();

    const vms = await Promise.all([1, 2].map(async (i) => {
      const name = `d${i}`;
      const disk = join(work, `${name}.qcow2`);
      const seedFile = join(work, `${name}.seed`);
      const ip = `10.200.251.${10 + i}`;
      const mac = `52:54:00:c8:fb:0${i}`;
      await run.run(`${sh('qemu-img', 'create', '-q', '-f', 'qcow2', '-b', deb.files.qcow2, '-F', 'qcow2', disk, '2G')} && ${seedCommand(seedFile, {
        instanceId: `${name}-${Date.now()}`, hostname: name, mac, address: `${ip}/24`, gateway: '10.200.251.1', sshKeys: [pub],
      })}`);
      const cmd = qemuArgs({
        name, runDir: work, accel: accel.accel, memMb: 512, vcpus: 1,
        boot: { kind: 'kernel', kernel: deb.files.kernel, initrd: deb.files.initrd, append: deb.meta.cmdline! },
        disks: [{ path: disk, format: 'qcow2' }, { path: seedFile, format: 'raw', readOnly: true }],
        nic: { tap: `vlxd${i}`, mac },
      });
      pidFiles.push(cmd.pidFile);
      await run.run(`${sh('ip', 'netns', 'exec', ns)} ${sh(...cmd.argv)}`);
      const serial = new SerialConsole(await unixSocket(cmd.serialSocket), name);
      await serial.waitFor(new RegExp(`${READY_MARKER} ${name} ${ip.replace(/\./g, '\\.')}`), 600_000);
      return { name, ip, cmd, serial };
    }));

    const seen = await Promise.all(vms.map(async (vm) => {
      // The serial console logs in as root by itself; wait for its prompt before typing.
      vm.serial.write('\n');
      await vm.serial.waitFor(/# $/m, 60_000);
      const hostKey = (await vm.serial.run('cat /etc/ssh/ssh_host_ed25519_key.pub')).output.trim().split(' ').slice(0, 2).join(' ');
      expect(hostKey).toMatch(/^ssh-ed25519 AAAA/);
      const knownHosts = join(work, `${vm.name}.known_hosts`);
      writeFileSync(knownHosts, `${vm.ip} ${hostKey}\n`);
      const ssh = await run.exec(`${sh('ip', 'netns', 'exec', ns)} ${sh('ssh', '-i', key, '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20', `root@${vm.ip}`, 'hostname; cat /etc/machine-id; ip -4 -o addr show eth0')}`, { timeoutMs: 60_000 });
      expect(ssh.stderr).toBe('');
      const [hostname, machineId, addr] = ssh.stdout.trim().split('\n');
      expect(hostname).toBe(vm.name);
      expect(addr).toContain(`inet ${vm.ip}/24`);
      vm.serial.close();
      return { hostKey, machineId };
    }));
    expect(seen[0].hostKey).not.toBe(seen[1].hostKey);
    expect(seen[0].machineId).toMatch(/^[0-9a-f]{32}$/);
    expect(seen[0].machineId).not.toBe(seen[1].machineId);

    // The VMs see each other across the bridge.
    const r = await run.exec(`${sh('ip', 'netns', 'exec', ns)} ${sh('ssh', '-i', key, '-o', `UserKnownHostsFile=${join(work, 'd1.known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${vms[0].ip}`, `ping -c 2 -W 5 ${vms[1].ip}`)}`, { timeoutMs: 60_000 });
    expect(r.stdout).toMatch(/2 received/);

    // dbus + logind make the ACPI power button a clean shutdown.
    const q = (await QmpClient.connect(await unixSocket(vms[0].cmd.qmpSocket))).client;
    const down = q.waitEvent('SHUTDOWN', 180_000);
    await systemPowerdown(q);
    expect((await down).data).toMatchObject({ guest: true });
    q.close();
  }, 1_800_000);
});
