import { describe, expect, test } from 'vitest';
import { withAnyNode } from '../../main/ssh/session.js';
import { VlxError } from '../../main/errors.js';
import type { NodeConn } from '../../main/ssh/types.js';

/** A session whose any() hands out the nodes in turn, as the real one does once the node in use is dropped. */
function session(names: string[]) {
  let i = 0;
  const used: string[] = [];
  return {
    used,
    nodes: () => names.map((name, k) => ({ name, address: `10.0.0.${k + 1}` })),
    any: async () => {
      const name = names[i++ % names.length];
      used.push(name);
      return { name } as unknown as NodeConn;
    },
  };
}
const dead = (n: string) => new VlxError('unreachable', `node ${n} stopped answering`);

describe('withAnyNode', () => {
  test('the node in use died since its last answer: the read runs again on the next live node', async () => {
    const s = session(['n4', 'n1', 'n2']);
    const r = await withAnyNode(s, async (c) => {
      if (c.name === 'n4') throw dead('n4');
      return `read on ${c.name}`;
    });
    expect(r).toBe('read on n1');
    expect(s.used).toEqual(['n4', 'n1']);
  });

  test('an error that is not a dead node is not retried', async () => {
    const s = session(['n1', 'n2']);
    await expect(withAnyNode(s, async () => { throw new VlxError('remote-failed', 'cat: no such file'); })).rejects.toThrow('no such file');
    expect(s.used).toEqual(['n1']);
  });

  test('every node dead: it gives up after one try per node, with the last node\'s error', async () => {
    const s = session(['n1', 'n2', 'n3']);
    await expect(withAnyNode(s, async (c) => { throw dead(c.name); })).rejects.toThrow('node n3 stopped answering');
    expect(s.used).toEqual(['n1', 'n2', 'n3']);
  });
});
