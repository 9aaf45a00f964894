import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkMigrationList, checksum } from '../../main/db/migrate.js';
import { MIGRATIONS } from '../../main/db/migrations/index.js';

const dir = join(import.meta.dirname, '../../main/db/migrations');

describe('migration list', () => {
  it('lists every NNN_name.sql file, in order, with its exact text embedded', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
    expect(MIGRATIONS.map((m) => `${m.name}.sql`)).toEqual(files);
    for (const m of MIGRATIONS) expect(m.sql).toBe(readFileSync(join(dir, `${m.name}.sql`), 'utf8'));
    expect(() => checkMigrationList(MIGRATIONS)).not.toThrow();
  });

  const ok = { version: 1, name: '001_a', sql: 'select 1' };
  it.each([
    ['a repeat', [ok, { ...ok }], 'expected a version above 1, got 1'],
    ['a step back', [{ version: 2, name: '002_b', sql: 'x' }, ok], 'expected a version above 2, got 1'],
    ['a version that is not a whole number', [{ version: 0, name: '000_a', sql: 'x' }], 'expected a version above 0, got 0'],
    ['a name without its number', [{ version: 1, name: 'a', sql: 'x' }], 'name must start with 001_'],
    ['a name with another number', [{ version: 1, name: '002_a', sql: 'x' }], 'name must start with 001_'],
    ['an empty migration', [{ version: 1, name: '001_a', sql: '  \n' }], '001_a is empty'],
  ])('refuses %s', (_what, list, message) => {
    expect(() => checkMigrationList(list)).toThrow(message);
  });

  it('accepts a skipped number (numbers handed out ahead to parallel work land in any order)', () => {
    expect(() => checkMigrationList([ok, { version: 3, name: '003_c', sql: 'x' }])).not.toThrow();
  });

  it('checksums tell any edit apart', () => {
    expect(checksum('select 1')).toBe(checksum('select 1'));
    expect(checksum('select 1')).not.toBe(checksum('select 1 '));
    expect(checksum('')).toMatch(/^[0-9a-f]{64}$/);
  });
});
