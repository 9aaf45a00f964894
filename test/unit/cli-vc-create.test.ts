// The interactive `vlx vc create`: which answers are asked again and with what message.
import { describe, expect, it } from 'vitest';
import { VlxError } from '../../main/errors.js';
import { parseVcSpec, validateAgainstCluster } from '../../main/domain/vcSpec.js';
import { outcome } from '../support/outcome.js';
import { checkAnswer, fieldOfError, needsAnswers, questionFor, type CreateAnswers, type CreateField } from '../../main/cli/vc.js';

const ctx = { images: ['tiny', 'debian-12'], vcs: ['web'] };

function refusal(field: CreateField, value: string, answers: CreateAnswers = {}): string {
  return (outcome(() => checkAnswer(field, value, answers, ctx)) as { message?: string } | undefined)?.message ?? 'accepted';
}

describe('checkAnswer', () => {
  it.each([
    ['name', 'a;b', 'name: must be 1-24 chars: a lowercase letter, then lowercase letters, digits or "-" (got "a;b")'],
    ['name', '', 'name: must be 1-24 chars: a lowercase letter, then lowercase letters, digits or "-" (got "")'],
    ['name', 'web', 'name: a VC named "web" already exists'],
    ['name', 'ttytest', 'accepted'],
    ['nodes', '0', 'nodes: must be a whole number from 1 to 256 (got "0")'],
    ['nodes', 'two', 'nodes: must be a whole number from 1 to 256 (got "two")'],
    ['nodes', '2', 'accepted'],
    ['vcpus', '65', 'vcpus: must be a whole number from 1 to 64 (got "65")'],
    ['memMb', '16', 'memMb: must be a whole number from 32 to 1048576 (got "16")'],
    ['diskGb', '0', 'diskGb: must be a whole number from 1 to 4096 (got "0")'],
    ['swapMb', '-1', 'swapMb: must be a whole number from 0 to 65536 (got "-1")'],
    ['swapMb', '0', 'accepted'],
    ['image', 'nosuch', 'image: must be a known image (debian-12, tiny) (got "nosuch")'],
    ['image', 'tiny', 'accepted'],
    ['subnet', '10.0.0.0/8', 'subnet: must be a /16 to /28 (got "10.0.0.0/8")'],
    ['subnet', 'auto', 'accepted'],
  ] as [CreateField, string, string][])('%s %j → %s', (field, value, want) => {
    expect(refusal(field, value, { nodes: '2' })).toBe(want);
  });

  it('checks a subnet against the number of VMs already answered', () => {
    expect(refusal('subnet', '10.210.0.0/28', { nodes: '20' })).toMatch(/^subnet: a \/28 has room for \d+ VMs besides the gateway; 20 needed/);
  });

  it('accepts any well-formed image name when the image list is not known', () => {
    expect(() => checkAnswer('image', 'later', {}, { images: [], vcs: [] })).not.toThrow();
  });

  it('gives the same message as VcService would at the end', () => {
    const spec = { name: 'x', nodes: '0', vcpus: '1', memMb: '128', diskGb: '1', image: 'tiny' };
    expect(() => parseVcSpec(spec)).toThrow(refusal('nodes', '0'));
  });
});

describe('fieldOfError: which refusal of VcService can be answered again', () => {
  const facts = { nodes: [{ name: 'n1', memMb: 8192 }], images: [{ name: 'tiny', virtualBytes: 2 * 1024 ** 3 }], vcs: [{ name: 'web', subnet: '10.200.0.0/24' }] };
  const spec = parseVcSpec({ name: 'x', nodes: '2', vcpus: '1', memMb: '128', diskGb: '2', image: 'tiny' });
  const refusedBy = (change: Partial<typeof spec>): unknown => {
    try {
      validateAgainstCluster({ ...spec, ...change }, facts);
    } catch (e) {
      return e;
    }
    throw new Error('accepted');
  };

  it.each([
    [{ memMb: 999_999 }, 'memMb'],
    [{ diskGb: 1 }, 'diskGb'],
    [{ name: 'web' }, 'name'],
    [{ image: 'gone' }, 'image'],
    [{ subnet: '10.200.0.0/24' }, 'subnet'],
  ] as [Partial<typeof spec>, CreateField][])('%j → %s', (change, field) => {
    expect(fieldOfError(refusedBy(change))).toBe(field);
  });

  it('leaves other failures alone', () => {
    expect(fieldOfError(new VlxError('unreachable', 'no node of cluster lab answered'))).toBeUndefined();
    expect(fieldOfError(new VlxError('conflict', 'vc x is locked by task 1234'))).toBeUndefined();
    expect(fieldOfError(new Error('nodes: boom'))).toBeUndefined();
  });
});

describe('the questions', () => {
  it('offers a default image that exists and lists the known ones', () => {
    expect(questionFor('image', ctx)).toEqual({ ask: 'OS image (debian-12, tiny)', def: 'tiny' });
    expect(questionFor('image', { images: ['debian-12'], vcs: [] })).toEqual({ ask: 'OS image (debian-12)', def: 'debian-12' });
    expect(questionFor('image', { images: [], vcs: [] }).def).toBe('tiny');
  });

  it('asks on a terminal when an answer without a default is missing', () => {
    const all = { name: 'x', nodes: '2', vcpus: '1', memMb: '128', diskGb: '1', image: 'tiny' };
    expect(needsAnswers(all)).toBe(false);
    expect(needsAnswers({ ...all, vcpus: undefined })).toBe(true);
    expect(needsAnswers({ name: 'x', nodes: '2' })).toBe(true);
  });
});
