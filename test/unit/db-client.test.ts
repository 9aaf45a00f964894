import { describe, expect, it } from 'vitest';
import { mapPgError } from '../../main/db/client.js';
import { VlxError } from '../../main/errors.js';

describe('mapPgError', () => {
  const where = 'vlx_1@10.77.0.2:5432/virtualinux';
  it.each<[string, object, string, RegExp]>([
    ['refused', { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 10.77.0.2:5432' }, 'unreachable', /is not reachable: connect ECONNREFUSED/],
    ['no route', { code: 'EHOSTUNREACH', message: 'connect EHOSTUNREACH' }, 'unreachable', /is not reachable/],
    ['server gone', { message: 'Connection terminated unexpectedly' }, 'unreachable', /did not answer: Connection terminated/],
    ['connect timeout', { message: 'timeout expired' }, 'unreachable', /did not answer/],
    ['bad password', { code: '28P01', message: 'password authentication failed for user "vlx_1"' }, 'auth-failed', /refused our credentials/],
    ['no hba rule', { code: '28000', message: 'no pg_hba.conf entry' }, 'auth-failed', /refused our credentials/],
    ['unique', { code: '23505', message: 'duplicate key value violates unique constraint "vms_ip_key"', detail: 'Key (ip)=(10.200.1.10) already exists.' }, 'conflict', /duplicate key .*\(Key \(ip\)/],
    ['exclusion', { code: '23P01', message: 'conflicting key value violates exclusion constraint "vcs_subnet_no_overlap"' }, 'conflict', /vcs_subnet_no_overlap/],
    ['check', { code: '23514', message: 'new row violates check constraint' }, 'invalid-input', /check constraint/],
    ['foreign key', { code: '23503', message: 'violates foreign key constraint' }, 'invalid-input', /foreign key/],
    ['anything else', { code: '42P01', message: 'relation "x" does not exist' }, 'db', /^database vlx_1@10\.77\.0\.2:5432\/virtualinux: relation "x"/],
  ])('%s', (_what, pgErr, code, message) => {
    const e = mapPgError(Object.assign(new Error((pgErr as { message: string }).message), pgErr), where);
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
  });

  it('keeps the constraint name for callers that turn it into their own message', () => {
    const e = mapPgError(Object.assign(new Error('x'), { code: '23P01', constraint: 'vcs_subnet_no_overlap' }), where);
    expect(e.details).toMatchObject({ pgCode: '23P01', constraint: 'vcs_subnet_no_overlap' });
  });

  it('passes a VlxError through untouched', () => {
    const original = new VlxError('conflict', 'locked');
    expect(mapPgError(original, where)).toBe(original);
  });
});
