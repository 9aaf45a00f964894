import type { Db, Queryable } from '../db/client.js';
import type { ExperimentKind, ExperimentRow, ExperimentValue } from '../domain/experiments.js';
import { VlxError } from '../errors.js';

/** A run as it is stored (the experiment tables of migration 007). */
export interface NewRun {
  taskId: string;
  kind: ExperimentKind;
  vc: string;
  vcSize: number;
  placement: Record<string, string>;
  accel: 'kvm' | 'tcg';
  image: string;
  seconds: number;
}

/** A run as it is read back: its id, when it started and how many values it holds. */
export interface ExperimentRun extends Omit<NewRun, 'taskId'> {
  id: number;
  taskId: string | null;
  startedAt: string;
  values: number;
}

const RUN_COLS = `r.id::int as id, r.task_id as "taskId", r.kind, r.vc, r.vc_size as "vcSize", r.placement, r.accel, r.image,
  r.seconds, to_char(r.started_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as "startedAt"`;

/** A run and all its values in one transaction: a run is stored whole or not at all. */
export async function storeRun(db: Db, run: NewRun, values: ExperimentValue[]): Promise<number> {
  return db.tx(async (q) => {
    const r = await q.query<{ id: number }>(
      `insert into experiment_runs (task_id, kind, vc, vc_size, placement, accel, image, seconds)
       values ($1, $2, $3, $4, $5::jsonb, $6, $7, $8) returning id::int as id`,
      [run.taskId, run.kind, run.vc, run.vcSize, JSON.stringify(run.placement), run.accel, run.image, run.seconds],
    );
    const id = r.rows[0]!.id;
    for (const v of values) {
      await q.query(
        `insert into experiment_results (run_id, probe, target, param, value, unit) values ($1, $2, $3, $4, $5, $6)
         on conflict (run_id, probe, target, param) do update set value = excluded.value, unit = excluded.unit`,
        [id, v.probe, v.target, v.param, v.value, v.unit],
      );
    }
    return id;
  });
}

export async function listRuns(q: Queryable, opts: { kind?: ExperimentKind; limit?: number } = {}): Promise<ExperimentRun[]> {
  const r = await q.query<ExperimentRun>(
    `select ${RUN_COLS}, (select count(*)::int from experiment_results x where x.run_id = r.id) as values
     from experiment_runs r where ($1::text is null or r.kind = $1) order by r.started_at desc, r.id desc limit $2`,
    [opts.kind ?? null, opts.limit ?? 100],
  );
  return r.rows;
}

export async function getRun(q: Queryable, id: number): Promise<ExperimentRun> {
  const r = await q.query<ExperimentRun>(
    `select ${RUN_COLS}, (select count(*)::int from experiment_results x where x.run_id = r.id) as values from experiment_runs r where r.id = $1`, [id],
  );
  if (!r.rows[0]) throw new VlxError('not-found', `no experiment run ${id}`, 'see `vlx experiment list`');
  return r.rows[0];
}

/** Every value of the runs, each with its run's facts, in run then probe order. */
export async function runRows(q: Queryable, ids: number[]): Promise<ExperimentRow[]> {
  const r = await q.query<Omit<ExperimentRow, 'placement'> & { placement: Record<string, string> }>(
    `select r.id::int as "runId", r.kind, x.probe, x.target, x.param, x.value, x.unit, r.vc, r.vc_size as "vcSize",
       r.placement, r.accel, r.image, to_char(r.started_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as date
     from experiment_results x join experiment_runs r on r.id = x.run_id
     where r.id = any($1::bigint[]) order by r.id, x.probe, x.target, length(x.param), x.param`, [ids],
  );
  return r.rows.map((row) => ({ ...row, placement: placementText(row.placement) }));
}

/** "vm1@n1 vm2@n2": the placement as one CSV field. */
export function placementText(p: Record<string, string>): string {
  return Object.keys(p).sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).map((vm) => `${vm}@${p[vm]}`).join(' ');
}
