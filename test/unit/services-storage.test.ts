import { spawnSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
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
    expect(script).toContain('echo "$c-$n $f"');
    expect(script).toContain('--export "type=nbd,id=export$i,node-name=root$i,name=$name,writable=on"');
    expect(script).toContain('--nbd-server "addr.type=inet,addr.host=$VIP,addr.port=$PORT"');
    // keepalived's notify passes TYPE NAME STATE PRIORITY; the deploy passes nothing.
    expect(script).toContain('state=${3:-${1:-converge}}');
  });
});
