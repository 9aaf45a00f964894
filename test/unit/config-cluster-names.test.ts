// Cluster names are plain names in the store: `constructor`, `__proto__` or `toString` must
// never find (or overwrite) a property of Object.prototype.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import {
  currentClusterName, findCluster, getCluster, listClusters, loadStore, putCluster, removeCluster, rememberLastNode, useCluster,
  type ClusterConfig,
} from '../../main/config/clusters.js';
import { registerCluster } from '../../main/cli/cluster.js';
import { outcome } from '../support/outcome.js';

const PROTO_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

const cluster = (name: string): ClusterConfig => ({ name, nodes: [{ name: 'n1', address: '10.9.0.1' }], user: 'root', port: 22, lab: false });

let home: string;
const saved = { home: process.env.VLX_HOME, cluster: process.env.VLX_CLUSTER };
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'vlx-names-'));
  process.env.VLX_HOME = home;
  delete process.env.VLX_CLUSTER;
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
  if (saved.home === undefined) delete process.env.VLX_HOME;
  else process.env.VLX_HOME = saved.home;
  if (saved.cluster === undefined) delete process.env.VLX_CLUSTER;
  else process.env.VLX_CLUSTER = saved.cluster;
  process.exitCode = 0;
});

/** `vlx cluster …` in process: the exit code the CLI would end with, and what it wrote. */
async function cli(...args: string[]): Promise<{ code: number; stderr: string }> {
  const program = new Command('vlx').exitOverride();
  registerCluster(program);
  let stderr = '';
  const write = process.stderr.write.bind(process.stderr);
  const out = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((s: string) => ((stderr += s), true)) as typeof process.stderr.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  process.exitCode = 0;
  try {
    await program.parseAsync(['node', 'vlx', 'cluster', ...args]);
  } finally {
    process.stderr.write = write;
    process.stdout.write = out;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { code, stderr };
}

describe('cluster store: names that are Object.prototype properties', () => {
  it.each(PROTO_NAMES)('"%s" is not known until added', (name) => {
    putCluster(cluster('lab'));
    expect(findCluster(loadStore(), name)).toBeUndefined();
    expect(outcome(() => getCluster(name))).toEqual({ code: 'not-found', message: `cluster "${name}" is not known` });
    expect(outcome(() => useCluster(name))).toEqual({ code: 'not-found', message: `cluster "${name}" is not known` });
    // nothing was saved by the refusals
    expect(currentClusterName()).toBe('lab');
    expect(loadStore().current).toBe('lab');
  });

  it.each(PROTO_NAMES)('"%s" is not known through VLX_CLUSTER either', (name) => {
    putCluster(cluster('lab'));
    process.env.VLX_CLUSTER = name;
    expect(outcome(() => getCluster())).toEqual({ code: 'not-found', message: `cluster "${name}" is not known` });
  });

  it.each(PROTO_NAMES)('a cluster named "%s" can be added, used, updated and removed', (name) => {
    putCluster(cluster('lab'));
    putCluster(cluster(name));
    // saved as a plain key and read back as one
    expect(Object.keys(JSON.parse(readFileSync(join(home, 'clusters.json'), 'utf8')).clusters)).toEqual(['lab', name]);
    expect(getCluster(name)).toEqual(cluster(name));
    useCluster(name);
    expect(currentClusterName()).toBe(name);
    expect(getCluster().name).toBe(name);
    rememberLastNode(name, 'n1');
    expect(getCluster(name).lastNode).toBe('n1');
    expect(listClusters().map((c) => c.name)).toEqual(['lab', name]);
    // the other cluster is untouched, and the store still has no prototype tricks in it
    expect(getCluster('lab')).toEqual(cluster('lab'));
    expect(Object.getPrototypeOf(loadStore().clusters)).toBeNull();
    removeCluster(name);
    expect(findCluster(loadStore(), name)).toBeUndefined();
    expect(currentClusterName()).toBe('lab');
  });

  it('a clusters.json with a "__proto__" entry loads it as a cluster, not as a prototype', () => {
    const file = join(home, 'clusters.json');
    writeFileSync(file, `{"current":"__proto__","clusters":{"__proto__":${JSON.stringify(cluster('__proto__'))}}}`);
    expect(getCluster().name).toBe('__proto__');
    expect(findCluster(loadStore(), 'constructor')).toBeUndefined();
    expect(({} as Record<string, unknown>).nodes).toBeUndefined();
  });

  it('an entry stored under another name than its own is refused with the field named', () => {
    writeFileSync(join(home, 'clusters.json'), JSON.stringify({ clusters: { a: cluster('b') } }));
    expect(outcome(() => loadStore())).toMatchObject({ code: 'invalid-input', message: expect.stringContaining('clusters.a.name must be the key it is stored under ("a")') });
  });
});

describe('vlx cluster use / remove with such names', () => {
  it('`vlx cluster use constructor` is a plain "not found" (exit 3) and saves nothing', async () => {
    putCluster(cluster('lab'));
    const before = readFileSync(join(home, 'clusters.json'), 'utf8');
    const r = await cli('use', 'constructor');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('cluster "constructor" is not known');
    expect(readFileSync(join(home, 'clusters.json'), 'utf8')).toBe(before);
    // every later command still works
    expect(getCluster().name).toBe('lab');
    expect((await cli('use', 'lab')).code).toBe(0);
  });

  it('`vlx cluster use constructor` works once a cluster of that name exists', async () => {
    putCluster(cluster('lab'));
    putCluster(cluster('constructor'));
    expect((await cli('use', 'constructor')).code).toBe(0);
    expect(currentClusterName()).toBe('constructor');
    expect((await cli('remove', 'constructor')).code).toBe(0);
    expect((await cli('remove', 'constructor')).code).toBe(3);
  });
});
