import { describe, expect, it } from 'vitest';
import { VlxError } from '../../main/errors.js';
import {
  checkLabDir, checkLabOptions, labNodes, netnsIndexOf, nodeIndexOf, nodeLayout, nodePaths,
} from '../../main/lab/layout.js';
import { buildManifest, renderHostsFile, renderNodeJson, renderSshdConfig, renderStartScript } from '../../main/lab/render.js';
import { missingPackages, REQUIREMENTS } from '../../main/lab/requirements.js';

function errorOf(fn: () => unknown): VlxError {
  try {
    fn();
  } catch (e) {
    if (e instanceof VlxError) return e;
    throw e;
  }
  throw new Error('expected a VlxError');
}

describe('nodeLayout', () => {
  it.each([
    [1, 'n1', '10.77.0.1', 'vlx-n1', 'vlxn1', '52:54:4d:00:00:01'],
    [2, 'n2', '10.77.0.2', 'vlx-n2', 'vlxn2', '52:54:4d:00:00:02'],
    [10, 'n10', '10.77.0.10', 'vlx-n10', 'vlxn10', '52:54:4d:00:00:0a'],
    [16, 'n16', '10.77.0.16', 'vlx-n16', 'vlxn16', '52:54:4d:00:00:10'],
    [32, 'n32', '10.77.0.32', 'vlx-n32', 'vlxn32', '52:54:4d:00:00:20'],
  ])('node %i', (i, name, address, netns, hostVeth, mac) => {
    expect(nodeLayout(i)).toEqual({ index: i, name, address, netns, hostVeth, mac });
  });

  it.each([0, 33, -1, 1.5, Number.NaN])('refuses index %s', (i) => {
    expect(errorOf(() => nodeLayout(i)).code).toBe('invalid-input');
  });

  it('host veth names fit the 15-char interface limit for every node', () => {
    for (const n of labNodes(32)) expect(n.hostVeth.length).toBeLessThanOrEqual(15);
  });

  it('labNodes counts from n1', () => {
    expect(labNodes(4).map((n) => n.name)).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(labNodes(0)).toEqual([]);
  });
});

describe('nodeIndexOf / netnsIndexOf', () => {
  it.each([
    ['n1', 1], ['n9', 9], ['n10', 10], ['n32', 32],
    ['n0', undefined], ['n33', undefined], ['n01', undefined], ['n', undefined], ['node1', undefined],
    ['n1;reboot', undefined], ['N1', undefined], ['n100', undefined], ['', undefined],
  ])('node %j → %j', (name, idx) => {
    expect(nodeIndexOf(name)).toBe(idx);
  });

  it.each([
    ['vlx-n1', 1], ['vlx-n32', 32], ['vlx-n33', undefined], ['vlx-x1', undefined], ['other', undefined], ['vlx-n', undefined],
  ])('netns %j → %j', (ns, idx) => {
    expect(netnsIndexOf(ns)).toBe(idx);
  });
});

describe('checkLabOptions', () => {
  it('defaults to 4 nodes, 4 cores, 8192 MB', () => {
    expect(checkLabOptions({})).toEqual({ nodes: 4, cores: 4, memMb: 8192 });
  });

  it.each([
    [{ nodes: '1' }, { nodes: 1, cores: 4, memMb: 8192 }],
    [{ nodes: '32', cores: '2', memMb: '1024' }, { nodes: 32, cores: 2, memMb: 1024 }],
    [{ nodes: 16 }, { nodes: 16, cores: 4, memMb: 8192 }],
  ])('accepts %j', (raw, want) => {
    expect(checkLabOptions(raw)).toEqual(want);
  });

  it.each([
    [{ nodes: '0' }, 'nodes: must be a whole number from 1 to 32 (got "0")'],
    [{ nodes: '1000' }, 'nodes: must be a whole number from 1 to 32 (got "1000")'],
    [{ nodes: 'abc' }, 'nodes: must be a whole number from 1 to 32 (got "abc")'],
    [{ nodes: '4;rm' }, 'nodes: must be a whole number from 1 to 32 (got "4;rm")'],
    [{ nodes: 2.5 }, 'nodes: must be a whole number from 1 to 32 (got 2.5)'],
    [{ cores: '0' }, 'cores: must be a whole number from 1 to 1024 (got "0")'],
    [{ memMb: '64' }, 'memMb: must be a whole number from 128 to 16777216 (got "64")'],
  ])('refuses %j', (raw, message) => {
    const e = errorOf(() => checkLabOptions(raw));
    expect(e.code).toBe('invalid-input');
    expect(e.message).toBe(message);
  });
});

describe('checkLabDir', () => {
  it.each([
    ['/var/lib/vlx-lab', '/var/lib/vlx-lab'],
    ['/tmp/x_y.z/', '/tmp/x_y.z'],
  ])('accepts %j', (dir, want) => {
    expect(checkLabDir(dir)).toBe(want);
  });

  it.each(['relative', '/', '/a b', '/a/../b', "/a'b", '/a;b', '/a$b', ''])('refuses %j', (dir) => {
    const e = errorOf(() => checkLabDir(dir));
    expect(e.code).toBe('invalid-input');
    expect(e.message).toContain('VLX_LAB_DIR');
  });
});

describe('rendering', () => {
  const n = nodeLayout(3);
  const p = nodePaths('/var/lib/vlx-lab', 'n3');

  it('paths of a node live under nodes/<name>', () => {
    expect(p).toEqual({
      dir: '/var/lib/vlx-lab/nodes/n3',
      hostKey: '/var/lib/vlx-lab/nodes/n3/ssh_host_ed25519_key',
      hostKeyPub: '/var/lib/vlx-lab/nodes/n3/ssh_host_ed25519_key.pub',
      sshdConfig: '/var/lib/vlx-lab/nodes/n3/sshd_config',
      startScript: '/var/lib/vlx-lab/nodes/n3/start.sh',
      hosts: '/var/lib/vlx-lab/nodes/n3/hosts',
      pidFile: '/var/lib/vlx-lab/nodes/n3/sshd.pid',
      log: '/var/lib/vlx-lab/nodes/n3/node.log',
      run: '/var/lib/vlx-lab/nodes/n3/run',
      lib: '/var/lib/vlx-lab/nodes/n3/lib',
      etc: '/var/lib/vlx-lab/nodes/n3/etc',
      home: '/var/lib/vlx-lab/nodes/n3/home',
    });
  });

  it('sshd_config: own address, key, pid file; key-only root; forwarding; high session limits', () => {
    const lines = renderSshdConfig(n, p).split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual([
      'ListenAddress 10.77.0.3',
      'Port 22',
      'HostKey /var/lib/vlx-lab/nodes/n3/ssh_host_ed25519_key',
      'PidFile /var/lib/vlx-lab/nodes/n3/sshd.pid',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'AuthorizedKeysFile .ssh/authorized_keys',
      'AllowTcpForwarding yes',
      'AllowStreamLocalForwarding yes',
      'MaxSessions 64',
      'MaxStartups 100:30:200',
      'UseDNS no',
      'PrintMotd no',
      'PrintLastLog no',
      'Subsystem sftp /usr/lib/openssh/sftp-server',
    ]);
  });

  it('start script: hostname, forwarding, a /run of its own, six binds, then becomes sshd', () => {
    const lines = renderStartScript({ node: n, paths: p, shared: '/var/lib/vlx-lab/shared' }).split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual([
      'set -e',
      'echo n3 > /proc/sys/kernel/hostname',
      'echo 1 > /proc/sys/net/ipv4/ip_forward',
      'mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m vlx-run /run',
      'mkdir -p /run/virtualinux /run/sshd /run/lock',
      'chmod 1777 /run/lock',
      'if id postgres >/dev/null 2>&1; then install -d -o postgres -g postgres -m 2775 /run/postgresql; fi',
      'mount --bind /var/lib/vlx-lab/shared /srv/virtualinux',
      'mount --bind /var/lib/vlx-lab/nodes/n3/run /run/virtualinux',
      'mount --bind /var/lib/vlx-lab/nodes/n3/lib /var/lib/virtualinux',
      'mount --bind /var/lib/vlx-lab/nodes/n3/etc /etc/virtualinux',
      'mount --bind /var/lib/vlx-lab/nodes/n3/home /root',
      'mount --bind /var/lib/vlx-lab/nodes/n3/hosts /etc/hosts',
      'exec /usr/sbin/sshd -D -e -f /var/lib/vlx-lab/nodes/n3/sshd_config',
    ]);
  });

  it('hosts file names every node at its lab address', () => {
    expect(renderHostsFile(labNodes(2)).split('\n')).toEqual([
      '127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', '10.77.0.1\tn1', '10.77.0.2\tn2', '',
    ]);
  });

  it('node.json declares capacity', () => {
    expect(JSON.parse(renderNodeJson(n, { nodes: 4, cores: 2, memMb: 2048 }))).toEqual({ name: 'n3', cores: 2, memMb: 2048 });
  });

  it('manifest lists every node on the lab network', () => {
    const m = buildManifest(labNodes(2), { nodes: 2, cores: 4, memMb: 8192 });
    expect(m).toEqual({
      version: 1,
      name: 'lab',
      sharedRoot: '/srv/virtualinux',
      nodes: [
        // The MAC lets the replicated DHCP map keep a node that is down at deploy time.
        { name: 'n1', address: '10.77.0.1', mac: '52:54:4d:00:00:01', cores: 4, memMb: 8192 },
        { name: 'n2', address: '10.77.0.2', mac: '52:54:4d:00:00:02', cores: 4, memMb: 8192 },
      ],
      vcSubnetPool: '10.200.0.0/16',
      clusterNetwork: '10.77.0.0/24',
      // The outside namespace is the public network: the gateway's public side is on the lab bridge.
      gateway: { public: { ip: '203.0.113.2', netmask: '255.255.255.0', router: '203.0.113.1' } },
    });
  });

  it.each([
    ['keeps a DB endpoint on a node that still exists', 'n2', true],
    ['drops a DB endpoint on a node the lab no longer has', 'n4', false],
  ])('manifest %s', (_label, dbNode, kept) => {
    const previous = { ...buildManifest(labNodes(4), { nodes: 4, cores: 4, memMb: 8192 }), db: { node: dbNode, host: '10.77.0.2', port: 5432 } };
    const m = buildManifest(labNodes(3), { nodes: 3, cores: 4, memMb: 8192 }, previous);
    expect(m.db).toEqual(kept ? { node: dbNode, host: '10.77.0.2', port: 5432 } : undefined);
  });

  it('manifest ignores a previous one that does not parse', () => {
    expect(buildManifest(labNodes(1), { nodes: 1, cores: 1, memMb: 512 }, { garbage: true }).db).toBeUndefined();
  });
});

describe('missingPackages', () => {
  const all = REQUIREMENTS.map((r) => r.tool);
  it.each([
    ['nothing missing', all, []],
    ['sshd missing', all.filter((t) => t !== 'sshd'), ['openssh-server']],
    ['both openssh-client tools missing: one package', all.filter((t) => t !== 'ssh' && t !== 'ssh-keygen'), ['openssh-client']],
    ['unshare and nsenter missing: util-linux once', all.filter((t) => t !== 'unshare' && t !== 'nsenter'), ['util-linux']],
    ['everything missing: each package once, in table order', [], [...new Set(REQUIREMENTS.map((r) => r.pkg))]],
  ])('%s', (_label, present, want) => {
    expect(missingPackages((t) => present.includes(t))).toEqual(want);
  });
});
