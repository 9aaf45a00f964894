import { describe, expect, it } from 'vitest';
import { CHANNELS } from '../../main/api/contract.js';
import { DOMAIN_NAMES, domainOf, loadDomain } from '../../main/service/index.js';

/**
 * The service layer is one module per domain; the registry says which owns each channel.
 * Every channel has exactly one handler, in the module the registry names, and no module
 * implements a channel it does not own (a handler nobody can reach is dead code).
 */
describe('service layer registry', () => {
  it('every channel is handled by the domain module that owns it, and by no other', async () => {
    const owned = new Map<string, string[]>();
    for (const c of CHANNELS) owned.set(domainOf(c), [...(owned.get(domainOf(c)) ?? []), c]);
    for (const d of DOMAIN_NAMES) {
      const handlers = await loadDomain(d);
      expect(Object.keys(handlers).sort(), d).toEqual((owned.get(d) ?? []).sort());
      for (const fn of Object.values(handlers)) expect(typeof fn).toBe('function');
    }
    expect([...owned.keys()].sort()).toEqual([...DOMAIN_NAMES].sort());
  });
});
