import { describe, expect, it } from 'vitest';
import { parseClusterConfig } from '../../main/config/clusters.js';
import { outcome } from '../support/outcome.js';

/** The code and message of the VlxError thrown (no error: the assertions on them fail). */
const fails = (v: unknown) => outcome(() => parseClusterConfig(v, 'clusters.lab')) as { code?: string; message?: string };

describe('parseClusterConfig (clusters.json entries)', () => {
  const minimal = { name: 'lab', nodes: [{ name: 'n1', address: '10.77.0.1' }] };

  it('fills the defaults: root, port 22, not a lab', () => {
    expect(parseClusterConfig(minimal)).toEqual({ ...minimal, user: 'root', port: 22, lab: false });
  });

  it('keeps what is given and drops unknown keys', () => {
    const db = { node: 'n2', host: '10.77.0.2', port: 5432, database: 'virtualinux', user: 'vlx_1', password: 'p' };
    const c = parseClusterConfig({ ...minimal, user: 'admin', port: 2222, keyFile: '/k', lab: true, db, lastNode: 'n1', extra: 1 });
    expect(c).toEqual({ ...minimal, user: 'admin', port: 2222, keyFile: '/k', lab: true, db, lastNode: 'n1' });
  });

  it('names the field and the rule of what is wrong', () => {
    expect(fails(null).message).toMatch(/clusters\.lab must be an object/);
    expect(fails({ nodes: [] }).message).toMatch(/clusters\.lab\.name must be a string/);
    expect(fails({ name: 'lab' }).message).toMatch(/clusters\.lab\.nodes must be an array/);
    expect(fails({ ...minimal, nodes: [{ name: 'n1' }] }).message).toMatch(/clusters\.lab\.nodes\[0\]\.address must be a string/);
    expect(fails({ ...minimal, port: '22' }).message).toMatch(/clusters\.lab\.port must be an integer/);
    expect(fails({ ...minimal, lab: 'yes' }).message).toMatch(/clusters\.lab\.lab must be true or false/);
    expect(fails({ ...minimal, db: { node: 'n2' } }).message).toMatch(/clusters\.lab\.db\.host must be a string/);
    expect(fails({ ...minimal, port: 1.5 }).code).toBe('invalid-input');
  });
});
