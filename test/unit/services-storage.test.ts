import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { NODE_RUN } from '../../main/domain/nodePaths.js';
import { Manifest } from '../../main/domain/manifest.js';
import { VlxError } from '../../main/errors.js';
import { planServices, type NodeFacts } from '../../main/node-services/plan.js';
import { renderStorageScript } from '../../main/node-services/storage.js';

/** The root server of disk-less nodes: its address and port planned from the manifest, its script rendered. */
const manifest = (storage?: Record<string, unknown>, extra: Record<string, unknown> = {}): Manifest => Manifest.parse({
  version: 1,
  name: 'lab',
  nodes: [1, 2, 3, 4].map((i) => ({ name: `n${i}`, address: `10.77.0.${i}`, cores: 4, memMb: 8192 })),
  clusterNetwork: '10.77.0.0/24',
  ...(storage ? { services: { storage } } : {}),
  ...extra,
});
const facts: NodeFacts[] = [1, 2, 3, 4].map((i) => ({
  node: `n${i}`, iface: 'eth0', mac: `52:54:4d:00:00:0${i}`, outIface: 'eth0', tools: { dnsmasq: true, keepalived: true, nft: true, chronyd: false },
}));

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VlxError);
    return (e as VlxError).message;
  }
  throw new Error('expected an error');
}

describe('storage plan', () => {
  test('defaults: the .252, NBD port 10809, the router id after the gateway\'s, overlays under the shared root', () => {
    expect(planServices(manifest(), facts).storage).toEqual({ vip: '10.77.0.252', port: 10809, routerId: 52, clusterDir: '/srv/virtualinux/cluster' });
  });

  test('the storage address prefers the other end of the gateway ranking', () => {
    const p = planServices(manifest(), facts);
    expect(p.nodes.map((n) => [n.name, n.priority, n.storagePriority])).toEqual([['n1', 250, 247], ['n2', 249, 248], ['n3', 248, 249], ['n4', 247, 250]]);
  });

  test.each([
    [{ vip: '10.77.1.5' }, 'services.storage.vip: must be inside the cluster network 10.77.0.0/24'],
    [{ vip: '10.77.0.2' }, 'services.storage.vip: must not be the address of a node'],
    [{ vip: '10.77.0.253' }, 'services.storage.vip: must not be the gateway VIP'],
    [{ port: 0 }, 'services.storage.port: must be a whole number from 1 to 65535'],
    [{ routerId: 51 }, 'services.storage.routerId: must differ from gateway.routerId'],
    [{ routerId: 300 }, 'services.storage.routerId: must be a whole number from 1 to 255'],
  ])('%j is refused', (storage, msg) => {
    expect(message(() => planServices(manifest(storage), facts))).toContain(msg);
  });

  test('an address of the DHCP map is refused', () => {
    const m = manifest({ vip: '10.77.0.20' }, {});
    m.services = { ...m.services, dhcp: { hosts: [{ mac: '52:54:77:00:00:01', ip: '10.77.0.20', name: 'd1' }] } };
    expect(message(() => planServices(m, facts))).toContain('services.storage.vip: must not be an address of the DHCP map');
  });
});

describe('storage script', () => {
  const script = renderStorageScript({ vip: '10.77.0.252', port: 10809, routerId: 52, clusterDir: '/srv/virtualinux/cluster' }, '# header');

  test('sh and dash parse it', () => {
    for (const shell of ['sh', 'dash']) expect(spawnSync(shell, ['-n'], { input: script }).status).toBe(0);
  });

  test('one export per node overlay, named as the boot line\'s ivid, writable, behind one NBD server on the storage address', () => {
    expect(script).toContain('for f in "$CLUSTER"/*/node*.qcow2');
    expect(script).toContain('echo "$c-$n $f $(stat -c %i "$f")"');
    expect(script).toContain('--export "type=nbd,id=export$i,node-name=root$i,name=$name,writable=on"');
    expect(script).toContain('--nbd-server "addr.type=inet,addr.host=$VIP,addr.port=$PORT"');
    // keepalived's notify passes TYPE NAME STATE PRIORITY; the deploy passes nothing.
    expect(script).toContain('state=${3:-${1:-converge}}');
    // decided under the lock, from the address
    expect(script.indexOf('if [ "$state" != STOP ] && holds; then')).toBeGreaterThan(script.indexOf('flock 9'));
  });
});

describe('storage script, run for real with stand-in ip and qemu-storage-daemon (two notify runs in either order)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlx-storage-notify-'));
  afterAll(() => {
    const pid = spawnSync('cat', [join(dir, 'run', 'storage.pid')], { encoding: 'utf8' }).stdout.trim();
    if (/^\d+$/.test(pid)) spawnSync('kill', [pid]);
    rmSync(dir, { recursive: true, force: true });
  });
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  mkdirSync(join(dir, 'cluster', 'c1'), { recursive: true });
  writeFileSync(join(dir, 'cluster', 'c1', 'node1.qcow2'), '');
  // ip reports the storage address while the file "holds" exists
  writeFileSync(join(bin, 'ip'), `#!/bin/sh\nif [ "$1" = -o ] && [ -e ${dir}/holds ]; then echo '1: lo    inet 10.9.9.9/32 scope host lo'; fi\n`, { mode: 0o755 });
  // a server that dies on TERM and names its pid file on its command line, as the real one does
  writeFileSync(join(bin, 'qemu-storage-daemon'), [
    '#!/bin/sh',
    'while [ $# -gt 0 ]; do [ "$1" = --pidfile ] && pf=$2; shift; done',
    `${process.execPath} -e 'setTimeout(() => {}, 30000)' "$pf" &`,
    'echo $! > "$pf"',
    '',
  ].join('\n'), { mode: 0o755 });
  const script = renderStorageScript({ vip: '10.9.9.9', port: 10809, routerId: 52, clusterDir: join(dir, 'cluster') }, '# test').replaceAll(NODE_RUN, join(dir, 'run'));
  const run = (holds: boolean, ...args: string[]): string => {
    if (holds) writeFileSync(join(dir, 'holds'), '');
    else rmSync(join(dir, 'holds'), { force: true });
    const r = spawnSync('sh', ['-s', '--', ...args], { input: script, env: { PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8', timeout: 20_000 });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.trim();
  };
  const notify = (holds: boolean, state: string) => run(holds, 'INSTANCE', 'vlx_storage', state, '249');

  test('BACKUP → MASTER: the MASTER run first, then the late BACKUP run: the holder keeps its server', () => {
    const started = notify(true, 'MASTER');
    expect(started).toMatch(/^storage: started \d+$/);
    expect(notify(true, 'BACKUP')).toBe(started.replace('started', 'kept'));
  });

  test('MASTER → BACKUP: the BACKUP run first, then the late MASTER run: no server without the address', () => {
    expect(notify(false, 'BACKUP')).toBe('storage: idle');
    expect(notify(false, 'MASTER')).toBe('storage: idle');
    expect(spawnSync('cat', [join(dir, 'run', 'storage.pid')]).status).not.toBe(0);
  });

  test('a late FAULT run while the node holds the address serves, converge keeps it; STOP never serves (keepalived or services stop going away)', () => {
    expect(notify(true, 'FAULT')).toMatch(/^storage: started \d+$/);
    expect(run(true, 'converge')).toMatch(/^storage: kept \d+$/);
    expect(run(true, '-', '-', 'STOP')).toBe('storage: idle');
  });
});

describe('storage script, run for real (root: a private mount and network namespace, a fake storage address on lo)', () => {
  test('serves every overlay it can open, drops a locked one, keeps a running server, reopens a reset overlay, stops when the address goes (not before)', () => {
    const dir = mkdtempSync('/tmp/vlx-storage-test-');
    const script = renderStorageScript({ vip: '10.9.9.9', port: 10809, routerId: 52, clusterDir: dir }, '# test');
    writeFileSync(join(dir, 'serve.sh'), script);
    const harness = [
      'set -e',
      'mount -t tmpfs none /run && mkdir -p /run/virtualinux',
      'ip link set lo up && ip addr add 10.9.9.9/32 dev lo',
      `mkdir ${dir}/c1 && cd ${dir}/c1 && qemu-img create -q -f qcow2 base.qcow2 64M`,
      `for i in 1 2 3; do qemu-img create -q -f qcow2 -b ${dir}/c1/base.qcow2 -F qcow2 node$i.qcow2; done`,
      // Another process holds node2's write lock (a server that is not dead yet).
      `qemu-storage-daemon --blockdev driver=qcow2,node-name=d,file.driver=file,file.filename=${dir}/c1/node2.qcow2 --pidfile ${dir}/lock.pid --daemonize`,
      `trap 'kill $(cat ${dir}/lock.pid) $(cat /run/virtualinux/storage.pid 2>/dev/null) 2>/dev/null' EXIT`,
      `sh ${dir}/serve.sh converge`,
      'qemu-nbd --list -b 10.9.9.9 -p 10809 | sed -n "s/^ *export: //p" | sort',
      `sh ${dir}/serve.sh converge`,
      `rm node1.qcow2 && qemu-img create -q -f qcow2 -b ${dir}/c1/base.qcow2 -F qcow2 node1.qcow2`,
      `sh ${dir}/serve.sh converge`,
      // a late BACKUP run while the node holds the address keeps the server; once it is gone, none
      `sh ${dir}/serve.sh INSTANCE vlx_storage BACKUP 249`,
      'ip addr del 10.9.9.9/32 dev lo',
      `sh ${dir}/serve.sh INSTANCE vlx_storage MASTER 249`,
    ].join('\n');
    try {
      const r = spawnSync('unshare', ['--mount', '--net', '--propagation', 'private', 'sh', '-c', harness], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n').map((l) => l.replace(/\d+$/, 'PID'));
      expect(lines).toEqual(["storage: started PID", "'c1-node1'", "'c1-node3'", 'storage: kept PID', 'storage: started PID', 'storage: kept PID', 'storage: idle']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
