import { describe, expect, it } from 'vitest';
import type { NodeInfo } from '../../main/api/contract.js';
import { validateWizard, WIZARD_DEFAULTS, type WizardContext, type WizardFields } from '../../renderer/src/stores/wizard.logic.js';

const n = (name: string, memMb: number, state: NodeInfo['state'] = 'up'): NodeInfo => ({ name, address: '10.77.0.1', state, cores: 4, memMb, services: [], inUse: false });
const ctx: WizardContext = {
  images: ['tiny', 'debian-12'],
  vcs: [{ name: 'db', subnet: '10.200.1.0/24' }],
  nodes: [n('n1', 2048), n('n2', 4096), n('n3', 65536, 'down')],
  clusterNetwork: '10.77.0.0/24',
};
const fields = (f: Partial<WizardFields>): WizardFields => ({ ...WIZARD_DEFAULTS, name: 'web', ...f });

describe('VC wizard validation', () => {
  it('turns valid fields into the spec the contract accepts', () => {
    expect(validateWizard(fields({ nodes: ' 8 ', subnet: '10.200.7.0/24' }), ctx)).toEqual({
      errors: {},
      spec: { name: 'web', nodes: 8, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: '10.200.7.0/24' },
    });
  });

  const bad: [string, Partial<WizardFields>, keyof WizardFields, string | RegExp][] = [
    ['empty name', { name: '' }, 'name', /^must be 1-24 chars/],
    ['shell metacharacters', { name: 'web;reboot' }, 'name', /^must be 1-24 chars/],
    ['too long', { name: 'a'.repeat(25) }, 'name', /^must be 1-24 chars/],
    ['upper case', { name: 'Web' }, 'name', /^must be 1-24 chars/],
    ['name taken', { name: 'db' }, 'name', 'a VC named "db" already exists'],
    ['zero nodes', { nodes: '0' }, 'nodes', 'must be a whole number from 1 to 256'],
    ['not a number', { nodes: 'four' }, 'nodes', 'must be a whole number from 1 to 256'],
    ['empty number', { vcpus: '' }, 'vcpus', 'must be a whole number from 1 to 64'],
    ['fraction', { vcpus: '1.5' }, 'vcpus', 'must be a whole number from 1 to 64'],
    ['negative swap', { swapMb: '-1' }, 'swapMb', 'must be a whole number from 0 to 65536'],
    ['memory larger than any live node', { memMb: '8192' }, 'memMb', 'must fit in one node: the largest node memory is 4096 MB (n2)'],
    ['unknown image', { image: 'centos' }, 'image', 'must be a known image (debian-12, tiny)'],
    ['bad image name', { image: '../x' }, 'image', /^must be 1-64 chars/],
    ['subnet not CIDR', { subnet: '10.200.1.0' }, 'subnet', 'must be "auto" or an IPv4 network like 10.200.7.0/24'],
    ['subnet prefix too long', { subnet: '10.200.1.0/33' }, 'subnet', 'must be "auto" or an IPv4 network like 10.200.7.0/24'],
    ['subnet overlapping the cluster network', { subnet: '10.77.0.128/25' }, 'subnet', 'must not overlap 10.77.0.0/24 (the cluster network)'],
    ['subnet overlapping another VC', { subnet: '10.200.0.0/16' }, 'subnet', '10.200.0.0/16 overlaps 10.200.1.0/24 (VC db), the subnet of another VC'],
  ];
  it.each(bad)('%s', (_, f, field, message) => {
    const r = validateWizard(fields(f), ctx);
    expect(r.spec).toBeUndefined();
    if (typeof message === 'string') expect(r.errors[field]).toBe(message);
    else expect(r.errors[field]).toMatch(message);
    expect(Object.keys(r.errors)).toEqual([field]);
  });

  it('skips checks it has no context for (images or nodes not loaded yet)', () => {
    expect(validateWizard(fields({ image: 'anything', memMb: '999999' }), { images: [], vcs: [], nodes: [] }).errors).toEqual({});
  });
});
