import { describe, expect, it } from 'vitest';
import { outcome } from '../support/outcome.js';
import { VC_LIMITS, VcSpecSchema, parseVcSpec, validateAgainstCluster, type ClusterFacts, type VcSpec } from '../../main/domain/vcSpec.js';


// As commander hands them over: strings.
const cli = { name: 'web', nodes: '4', vcpus: '1', memMb: '128', diskGb: '2', swapMb: '64', image: 'tiny', subnet: 'auto' };
const spec: VcSpec = { name: 'web', nodes: 4, vcpus: 1, memMb: 128, diskGb: 2, swapMb: 64, image: 'tiny', subnet: 'auto' };

describe('parseVcSpec', () => {
  it('turns CLI strings into a typed spec', () => {
    expect(parseVcSpec(cli)).toEqual(spec);
  });
  it('takes numbers as the GUI sends them', () => {
    expect(parseVcSpec({ ...spec })).toEqual(spec);
  });
  it('defaults --swap-mb to 0 and --subnet to auto', () => {
    const { swapMb: _s, subnet: _n, ...rest } = cli;
    expect(parseVcSpec(rest)).toEqual({ ...spec, swapMb: 0, subnet: 'auto' });
  });
  it('keeps a valid requested subnet', () => {
    expect(parseVcSpec({ ...cli, subnet: '10.200.9.0/24' }).subnet).toBe('10.200.9.0/24');
  });
  it('the result satisfies the contract schema', () => {
    expect(VcSpecSchema.safeParse(parseVcSpec(cli)).success).toBe(true);
  });

  const NAME_RULE = 'must be 1-24 chars: a lowercase letter, then lowercase letters, digits or "-"';
  const range = (f: keyof typeof VC_LIMITS) => `must be a whole number from ${VC_LIMITS[f].min} to ${VC_LIMITS[f].max}`;
  it.each([
    ['shell metacharacters in the name', { name: 'web;rm -rf /' }, `name: ${NAME_RULE} (got "web;rm -rf /")`],
    ['command substitution in the name', { name: '$(id)' }, `name: ${NAME_RULE} (got "$(id)")`],
    ['a name too long', { name: 'a'.repeat(25) }, `name: ${NAME_RULE} (got "${'a'.repeat(25)}")`],
    ['an upper-case name', { name: 'Web' }, `name: ${NAME_RULE} (got "Web")`],
    ['no name', { name: undefined }, `name: ${NAME_RULE}`],
    ['--nodes 0', { nodes: '0' }, `nodes: ${range('nodes')} (got "0")`],
    ['--nodes 257', { nodes: '257' }, `nodes: ${range('nodes')} (got "257")`],
    ['--nodes 2.5', { nodes: '2.5' }, `nodes: ${range('nodes')} (got "2.5")`],
    ['--nodes four', { nodes: 'four' }, `nodes: ${range('nodes')} (got "four")`],
    ['--nodes missing', { nodes: undefined }, 'nodes: is required'],
    ['--nodes empty', { nodes: '' }, 'nodes: is required'],
    ['--vcpus 0', { vcpus: '0' }, `vcpus: ${range('vcpus')} (got "0")`],
    ['--vcpus 65', { vcpus: 65 }, `vcpus: ${range('vcpus')} (got 65)`],
    ['--mem-mb 31', { memMb: '31' }, `memMb: ${range('memMb')} (got "31")`],
    ['--mem-mb too large', { memMb: '1048577' }, `memMb: ${range('memMb')} (got "1048577")`],
    ['--mem-mb negative', { memMb: '-128' }, `memMb: ${range('memMb')} (got "-128")`],
    ['--disk-gb 0', { diskGb: '0' }, `diskGb: ${range('diskGb')} (got "0")`],
    ['--disk-gb 4097', { diskGb: 4097 }, `diskGb: ${range('diskGb')} (got 4097)`],
    ['--swap-mb -1', { swapMb: '-1' }, `swapMb: ${range('swapMb')} (got "-1")`],
    ['--swap-mb 65537', { swapMb: '65537' }, `swapMb: ${range('swapMb')} (got "65537")`],
    ['--image missing', { image: undefined }, 'image: is required'],
    ['--image with a path', { image: '../../etc/passwd' }, 'image: must be 1-64 chars: lowercase letters, digits, ".", "_" or "-", not starting with a punctuation mark (got "../../etc/passwd")'],
    ['--image with a space', { image: 'tiny image' }, 'image: must be 1-64 chars: lowercase letters, digits, ".", "_" or "-", not starting with a punctuation mark (got "tiny image")'],
    ['--subnet garbage', { subnet: 'big' }, 'subnet: must be an IPv4 CIDR like 10.200.3.0/24 (got "big")'],
    ['--subnet public', { subnet: '1.2.3.0/24' }, 'subnet: must lie inside a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) (got "1.2.3.0/24")'],
    ['--subnet too small for --nodes', { nodes: '20', subnet: '10.200.9.0/28' }, 'subnet: a /28 has room for 13 VMs besides the gateway; 20 needed (got "10.200.9.0/28")'],
    ['--subnet not a string', { subnet: 24 }, 'subnet: must be "auto" or an IPv4 CIDR (got 24)'],
  ])('refuses %s', (_n, change, message) => {
    expect(outcome(() => parseVcSpec({ ...cli, ...change }))).toEqual({ code: 'invalid-input', message });
  });
  it('accepts the limits themselves', () => {
    for (const [f, { min, max }] of Object.entries(VC_LIMITS)) {
      expect(parseVcSpec({ ...cli, [f]: String(min) })[f as keyof typeof VC_LIMITS]).toBe(min);
      expect(parseVcSpec({ ...cli, [f]: String(max), subnet: 'auto' })[f as keyof typeof VC_LIMITS]).toBe(max);
    }
  });
  it('refuses something that is not an object', () => {
    expect(outcome(() => parseVcSpec('web'))).toEqual({ code: 'invalid-input', message: 'VC spec: must be an object of answers (got "web")' });
  });
});

describe('validateAgainstCluster', () => {
  const facts: ClusterFacts = {
    nodes: [{ name: 'n1', memMb: 2048 }, { name: 'n2', memMb: 4096 }, { name: 'n3', memMb: 1024 }],
    images: [{ name: 'tiny', virtualBytes: 256 * 1024 ** 2 }, { name: 'debian-12', virtualBytes: 3 * 1024 ** 3 }, 'imported'],
    vcs: [{ name: 'old', subnet: '10.200.0.0/24' }, { name: 'fresh', subnet: null }],
    reserved: [{ cidr: '10.77.0.0/24', label: 'the cluster network' }],
  };
  it('resolves --subnet auto to the first free /24', () => {
    expect(validateAgainstCluster(spec, facts)).toEqual({ ...spec, subnet: '10.200.1.0/24' });
  });
  it('keeps a free requested subnet', () => {
    expect(validateAgainstCluster({ ...spec, subnet: '10.200.7.0/24' }, facts).subnet).toBe('10.200.7.0/24');
  });
  it('accepts memory equal to the largest node', () => {
    expect(validateAgainstCluster({ ...spec, memMb: 4096 }, facts).memMb).toBe(4096);
  });
  it('takes images named by plain strings', () => {
    expect(validateAgainstCluster({ ...spec, image: 'imported' }, facts).image).toBe('imported');
  });
  it('uses the pool given', () => {
    expect(validateAgainstCluster(spec, { ...facts, pool: '10.201.0.0/16' }).subnet).toBe('10.201.0.0/24');
  });
  it.each([
    ['a VC of that name exists', { name: 'old' }, facts, 'conflict', 'name: a VC named "old" already exists'],
    ['an unknown image', { image: 'centos' }, facts, 'invalid-input', 'image: must be a known image (debian-12, imported, tiny) (got "centos")'],
    ['no images at all', {}, { ...facts, images: [] }, 'invalid-input', 'image: no images exist yet: build one with `vlx image build tiny` (got "tiny")'],
    ['memory larger than any node', { memMb: 4097 }, facts, 'invalid-input', 'memMb: must fit in one node: the largest node memory is 4096 MB (n2) (got 4097)'],
    ['no nodes', {}, { ...facts, nodes: [] }, 'not-found', 'the cluster has no nodes to run a VC on'],
    ['a disk smaller than the image', { image: 'debian-12', diskGb: 2 }, facts, 'invalid-input', 'diskGb: must be at least the size of image debian-12 (3 GB) (got 2)'],
    ['a subnet overlapping the lab network', { subnet: '10.77.0.0/16' }, facts, 'invalid-input', 'subnet: must not overlap 10.77.0.0/24 (the cluster network) (got "10.77.0.0/16")'],
    ['a subnet overlapping another VC', { subnet: '10.200.0.0/23' }, facts, 'conflict', 'subnet: 10.200.0.0/23 overlaps 10.200.0.0/24 (VC old), the subnet of another VC'],
  ] as const)('refuses %s', (_n, change, f, code, message) => {
    expect(outcome(() => validateAgainstCluster({ ...spec, ...change }, f))).toEqual({ code, message });
  });
});
