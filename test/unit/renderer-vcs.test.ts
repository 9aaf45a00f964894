import { describe, expect, it } from 'vitest';
import { sharedStorageSource } from '../../renderer/src/stores/vcs.logic.js';

describe('sharedStorageSource', () => {
  it('is the subnet\'s first address and the VC\'s pseudo path', () => {
    expect(sharedStorageSource('web', '10.200.3.0/24')).toBe('10.200.3.1:/vc/web');
    expect(sharedStorageSource('db', '10.200.4.64/26')).toBe('10.200.4.65:/vc/db');
    expect(sharedStorageSource('big', '10.201.0.0/16')).toBe('10.201.0.1:/vc/big');
  });
  it('takes the network part even when given a host address', () => {
    expect(sharedStorageSource('x', '10.200.3.77/24')).toBe('10.200.3.1:/vc/x');
  });
  it('nothing for what is not an IPv4 subnet with room for hosts', () => {
    for (const bad of ['', '10.200.3.0', '10.200.3.0/31', '300.1.1.0/24', 'fd00::/64']) expect(sharedStorageSource('x', bad)).toBeUndefined();
  });
});
