import { createHash } from 'node:crypto';
import { VlxError } from '../errors.js';
import type { Db, Queryable } from './client.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';

export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
  appliedAt: string;
}

export interface MigrateResult {
  applied: string[];
  /** Versions already in the DB before this run. */
  present: number[];
}

export function checksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/**
 * Numbers rise strictly. They may skip: numbers are handed out ahead to work done in parallel
 * (005, 006, 007), so a later one can land first; migrate() applies whatever a database lacks,
 * in list order. A repeat or a step back is a mistake. That every file is listed is the
 * migration test's to check.
 */
export function checkMigrationList(list: readonly Migration[]): void {
  let prev = 0;
  for (const m of list) {
    if (!Number.isInteger(m.version) || m.version <= prev) throw new VlxError('internal', `migration ${m.name}: expected a version above ${prev}, got ${m.version}`);
    const prefix = String(m.version).padStart(3, '0') + '_';
    if (!m.name.startsWith(prefix)) throw new VlxError('internal', `migration ${m.name}: name must start with ${prefix}`);
    if (!m.sql.trim()) throw new VlxError('internal', `migration ${m.name} is empty`);
    prev = m.version;
  }
}

const ENSURE_TABLE = `create table if not exists schema_migrations (
  version    integer primary key,
  name       text not null,
  checksum   text not null,
  applied_at timestamptz not null default now()
)`;

export async function appliedMigrations(q: Queryable): Promise<AppliedMigration[]> {
  const exists = await q.query<{ t: string | null }>(`select to_regclass('schema_migrations')::text as t`);
  if (!exists.rows[0].t) return [];
  const r = await q.query<{ version: number; name: string; checksum: string; applied_at: Date }>(
    'select version, name, checksum, applied_at from schema_migrations order by version',
  );
  return r.rows.map((x) => ({ version: x.version, name: x.name, checksum: x.checksum, appliedAt: x.applied_at.toISOString() }));
}

/**
 * Apply every missing migration in order, each in its own transaction, under an advisory
 * lock so two workstations migrating at once cannot interleave (the second waits, then finds
 * nothing to do). Re-running is a no-op. A migration whose text changed after it was
 * applied is refused: the DB would no longer match what the code believes it has.
 */
export async function migrate(db: Db, list: readonly Migration[] = MIGRATIONS): Promise<MigrateResult> {
  checkMigrationList(list);
  return db.withAdvisoryLock('schema-migrations', async (q) => {
    await q.query(ENSURE_TABLE);
    const done = await appliedMigrations(q);
    const byVersion = new Map(done.map((d) => [d.version, d]));
    for (const m of list) {
      const d = byVersion.get(m.version);
      if (d && d.checksum !== checksum(m.sql)) {
        throw new VlxError('db', `migration ${m.name} was changed after it was applied to ${db.where}`,
          'never edit an applied migration: add a new one');
      }
    }
    const applied: string[] = [];
    for (const m of list) {
      if (byVersion.has(m.version)) continue;
      await q.query('begin');
      try {
        await q.query(m.sql);
        await q.query('insert into schema_migrations (version, name, checksum) values ($1, $2, $3)', [m.version, m.name, checksum(m.sql)]);
        await q.query('commit');
      } catch (e) {
        await q.query('rollback').catch(() => {});
        const err = e as VlxError;
        throw new VlxError('db', `migration ${m.name} failed: ${err.message}`, undefined, err.details);
      }
      applied.push(m.name);
    }
    return { applied, present: done.map((d) => d.version) };
  }, { wait: true });
}
