// The in-process SSH session against the lab: pooled connections, any live node, moving on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { getCluster } from '../../main/config/clusters.js';
import { openCluster, type SshClusterSession } from '../../main/ssh/session.js';
import { inspectNodes } from '../../main/nodes/inspect.js';

const VLX = join(process.cwd(), 'bin/vlx');
let s: SshClusterSession;

beforeAll(() => {
  s = openCluster(getCluster('lab'), { channelOpenTimeoutMs: 2000 });
});
afterAll(async () => {
  await s?.close();
});

describe('cluster session on the lab', () => {
  it('runs on all nodes in parallel over pooled connections', async () => {
    const rs = await s.onNodes('all', 'hostname');
    expect(rs.map((r) => r.stdout.trim())).toEqual(s.nodes().map((n) => n.name));
    const again = await s.onNodes('all', 'hostname');
    expect(again.every((r) => r.code === 0)).toBe(true);
  });

  it('inspects every node in one round trip', async () => {
    const infos = await inspectNodes(s);
    expect(infos.every((n) => n.reachable && n.hostname === n.node)).toBe(true);
  });

  it('moves to another node by itself when the one in use dies, and sees it again after revive', async () => {
    const c = await s.any();
    const used = c.name;
    execFileSync(VLX, ['lab', 'crash', used]);
    try {
      const r = await s.execAny('hostname');
      expect(r.node).not.toBe(used);
      expect(r.stdout.trim()).toBe(r.node);
      const rs = await s.onNodes('all', 'true');
      expect(rs.find((x) => x.node === used)).toMatchObject({ code: -1, error: { code: 'unreachable' } });
    } finally {
      execFileSync(VLX, ['lab', 'revive', used]);
    }
    const rs = await s.onNodes([used], 'hostname');
    expect(rs[0]).toMatchObject({ code: 0, stdout: `${used}\n` });
  });
});
