// A workstation joins the disk-less nodes an install made: they become nodes of its cluster
// config, and the host keys the install made for them (read from shared storage by a real
// shell) are trusted, so a node booted from a reset root is reached with no prompt.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCluster, putCluster } from '../../main/config/clusters.js';
import { lookupHost, replaceKnownHost } from '../../main/ssh/knownHosts.js';
import { describeJoin, joinInstalledNodes, readInstalledNodes } from '../../main/cluster/installedNodes.js';
import { localRunner } from '../../main/images/local.js';
import { Manifest } from '../../main/domain/manifest.js';
import { renderKeysScript } from '../../main/install/scripts.js';
import { storagePaths } from '../../main/domain/storagePaths.js';

let home: string;
let shared: string;
const saved = process.env.VLX_HOME;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'vlx-join-'));
  shared = join(home, 'shared');
  mkdirSync(shared);
  process.env.VLX_HOME = join(home, 'app');
  putCluster({ name: 'lab', nodes: [{ name: 'n1', address: '10.77.0.1' }], user: 'root', port: 22, lab: true }, true);
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
  if (saved === undefined) delete process.env.VLX_HOME;
  else process.env.VLX_HOME = saved;
});

function manifest(nodes: { ordinal: number; hostname: string; ip: string }[]): Manifest {
  return Manifest.parse({
    version: 1, name: 'lab', sharedRoot: shared, clusterNetwork: '10.77.0.0/24',
    nodes: [{ name: 'n1', address: '10.77.0.1', cores: 1, memMb: 512 }],
    install: {
      container: 'dl', config: { sharedRoot: shared }, storageIp: '10.77.0.252',
      nodes: nodes.map((n) => ({ ...n, mac: `52:54:4d:00:01:0${n.ordinal}`, storageIp: n.ip, export: `dl-node${n.ordinal}` })),
    },
  });
}

/** The install's own script makes the keys, as on a node. */
function makeKeys(ordinals: number[]): string[] {
  execFileSync('sh', ['-e'], { input: renderKeysScript(storagePaths(shared), 'dl', ordinals) });
  return ordinals.map((n) => readFileSync(join(shared, 'cluster/dl/keys', `node${n}`, 'ssh_host_ed25519_key.pub'), 'utf8').split(' ')[1]!);
}

describe('joining the installed nodes', () => {
  it('adds each node at its boot address and trusts the key the install made; a second join changes nothing', async () => {
    const [k1, k2] = makeKeys([1, 2]);
    const m = manifest([{ ordinal: 1, hostname: 'dl1', ip: '10.77.0.101' }, { ordinal: 2, hostname: 'dl2', ip: '10.77.0.102' }]);
    const nodes = await readInstalledNodes(localRunner(), m);
    expect(nodes.map((n) => [n.name, n.address, n.key?.keyType, n.key?.keyBase64])).toEqual([
      ['dl1', '10.77.0.101', 'ssh-ed25519', k1], ['dl2', '10.77.0.102', 'ssh-ed25519', k2],
    ]);
    // A stale key for dl2's address (an earlier installation) is replaced by the install's.
    replaceKnownHost('10.77.0.102', 22, { keyType: 'ssh-ed25519', keyBase64: 'AAAAold' });
    const r = joinInstalledNodes('lab', nodes);
    expect(r).toEqual({ added: ['dl1', 'dl2'], trusted: ['dl1', 'dl2'], conflicts: [] });
    expect(getCluster('lab').nodes).toEqual([{ name: 'n1', address: '10.77.0.1' }, { name: 'dl1', address: '10.77.0.101' }, { name: 'dl2', address: '10.77.0.102' }]);
    expect(lookupHost('10.77.0.102').map((k) => k.keyBase64)).toEqual([k2]);
    expect(joinInstalledNodes('lab', nodes)).toEqual({ added: [], trusted: [], conflicts: [] });
    expect(describeJoin(r)).toBe("added dl1, dl2 to this workstation's cluster config; trusts the host key the install made for dl1, dl2");
  });

  it('a node without keys yet is added untrusted; a name the config gives another address is left alone', async () => {
    makeKeys([1]);
    const m = manifest([{ ordinal: 1, hostname: 'n1', ip: '10.77.0.101' }, { ordinal: 2, hostname: 'dl2', ip: '10.77.0.102' }]);
    const nodes = await readInstalledNodes(localRunner(), m);
    expect(nodes.find((n) => n.name === 'dl2')?.key).toBeUndefined();
    const r = joinInstalledNodes('lab', nodes);
    expect(r).toEqual({ added: ['dl2'], trusted: [], conflicts: ['n1'] });
    expect(lookupHost('10.77.0.101')).toEqual([]);
    expect(getCluster('lab').nodes.find((n) => n.name === 'n1')?.address).toBe('10.77.0.1');
  });

  it('a manifest without an installation joins nothing; an unknown cluster is left alone', async () => {
    const m = manifest([]);
    expect(await readInstalledNodes(localRunner(), { ...m, install: undefined })).toEqual([]);
    expect(joinInstalledNodes('other', [{ name: 'dl1', address: '10.77.0.101' }])).toEqual({ added: [], trusted: [], conflicts: [] });
  });
});
