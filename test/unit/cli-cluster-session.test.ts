// What the CLI commands share to reach the current cluster: one way to open and close a
// session, one wording for "no node answered".
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VlxError } from '../../main/errors.js';
import { SshClusterSession, noNodeAnswered } from '../../main/ssh/session.js';
import { withCurrentCluster } from '../../main/cluster/session.js';

describe('noNodeAnswered', () => {
  const down = (node: string, message: string, code = 'unreachable') => ({ node, address: `10.0.0.${node.slice(1)}`, reachable: false, error: { code, message } });

  it('lists every node with its reason, as `vlx nodes` always did', () => {
    const e = noNodeAnswered('lab', [down('n1', 'node n1 (10.0.0.1:22) refused the connection'), down('n2', 'node n2 (10.0.0.2:22) did not answer (connection timed out)', 'timeout')]);
    expect(e.code).toBe('unreachable');
    expect(e.message).toBe('no node of cluster lab answered:\n  node n1 (10.0.0.1:22) refused the connection\n  node n2 (10.0.0.2:22) did not answer (connection timed out)');
    expect(e.hint).toBe('check that the nodes are up and reachable from this machine');
    expect(e.details).toEqual({ nodes: ['n1', 'n2'] });
  });

  it('lists an auth or host-key failure with the others, and keeps its code (exit 6, not 5)', () => {
    const e = noNodeAnswered('lab', [down('n1', 'no key for node n1', 'auth-failed'), down('n2', 'node n2 refused', 'unreachable')]);
    expect(e.code).toBe('auth-failed');
    expect(e.message).toBe('no node of cluster lab answered:\n  no key for node n1\n  node n2 refused');
  });

  it('a changed host key on one node outranks the others', () => {
    const e = noNodeAnswered('lab', [down('n1', 'timed out', 'timeout'), down('n2', 'n2 presents another key', 'host-key-changed'), down('n3', 'no key', 'auth-failed')]);
    expect(e.code).toBe('host-key-changed');
    expect(e.message).toBe('no node of cluster lab answered:\n  timed out\n  n2 presents another key\n  no key');
  });

  it('unreachable nodes alone stay unreachable', () => {
    expect(noNodeAnswered('lab', [down('n1', 'a', 'unreachable'), down('n2', 'b', 'timeout')]).code).toBe('unreachable');
  });

  it('names the node when its result carries no reason', () => {
    expect(noNodeAnswered('lab', [{ node: 'n1', address: '10.0.0.1' }]).message).toBe('no node of cluster lab answered:\n  n1');
  });

  it('says so when the cluster has no nodes at all', () => {
    const e = noNodeAnswered('empty', []);
    expect(e.message).toBe('cluster empty has no nodes');
    expect(e.hint).toBe('add one with `vlx cluster add`');
  });
});

describe('withCurrentCluster', () => {
  let home: string;
  const saved = { home: process.env.VLX_HOME, cluster: process.env.VLX_CLUSTER };

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'vlx-cli-session-'));
    process.env.VLX_HOME = home;
    delete process.env.VLX_CLUSTER;
    writeFileSync(join(home, 'clusters.json'), JSON.stringify({
      current: 'c',
      clusters: { c: { name: 'c', nodes: [{ name: 'n1', address: '192.0.2.1' }], user: 'root', port: 22, lab: false } },
    }), { mode: 0o600 });
  });
  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
    for (const [k, v] of [['VLX_HOME', saved.home], ['VLX_CLUSTER', saved.cluster]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** A close that only counts as done once its promise settles: the helper must await it. */
  function slowClose() {
    const settled: string[] = [];
    const spy = vi.spyOn(SshClusterSession.prototype, 'close').mockImplementation(async () => {
      await new Promise((r) => setTimeout(r, 20));
      settled.push('closed');
    });
    return { spy, settled };
  }

  it('hands fn the current cluster, returns its value, and has closed the session by then', async () => {
    const { spy, settled } = slowClose();
    const v = await withCurrentCluster(async (s) => {
      expect(s.config.name).toBe('c');
      expect(settled).toEqual([]);
      return 42;
    });
    expect(v).toBe(42);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(settled).toEqual(['closed']);
  });

  it('closes the session when fn fails and passes the failure on', async () => {
    const { spy, settled } = slowClose();
    const boom = new VlxError('remote-failed', 'boom');
    await expect(withCurrentCluster(async () => { throw boom; })).rejects.toBe(boom);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(settled).toEqual(['closed']);
  });

  it('fails before fn runs when no such cluster is known', async () => {
    process.env.VLX_CLUSTER = 'nope';
    try {
      const fn = vi.fn(async () => 1);
      await expect(withCurrentCluster(fn)).rejects.toMatchObject({ code: 'not-found', message: 'cluster "nope" is not known' });
      expect(fn).not.toHaveBeenCalled();
    } finally {
      delete process.env.VLX_CLUSTER;
    }
  });
});
