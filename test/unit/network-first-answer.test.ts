import { describe, expect, it } from 'vitest';
import { firstAnswering } from '../../main/network/sync.js';
import type { NodeExecResult } from '../../main/ssh/session.types.js';

const answer = (node: string, code: number, afterMs: number): Promise<NodeExecResult> =>
  new Promise((resolve) => setTimeout(() => resolve({ node, code, stdout: '', stderr: '' } as NodeExecResult), afterMs));

describe('the network sync reads the manifest through the first node that answered', () => {
  it('takes the first to answer, not the first listed: a dead node in use does not hold the others back', async () => {
    const t0 = Date.now();
    expect(await firstAnswering([answer('n4', -1, 300), answer('n1', 0, 40), answer('n2', 0, 10)])).toBe('n2');
    expect(Date.now() - t0).toBeLessThan(250);
  });

  it('skips failed answers and rejections, and waits for a later success', async () => {
    expect(await firstAnswering([answer('n1', -1, 5), Promise.reject(new Error('gone')), answer('n3', 0, 30)])).toBe('n3');
  });

  it('is undefined when no node answers, or there is none', async () => {
    expect(await firstAnswering([answer('n1', -1, 5), answer('n2', 255, 10), Promise.reject(new Error('x'))])).toBeUndefined();
    expect(await firstAnswering([])).toBeUndefined();
  });
});
