-- The report's experiments (main/domain/experiments.ts): one row per run with the facts that
-- make runs comparable (VC size, placement, accelerator, image, date), one row per measured value.
create table if not exists experiment_runs (
  id bigserial primary key,
  task_id text,
  kind text not null check (kind in ('os-overhead', 'network', 'storage', 'mpi')),
  vc text not null,
  vc_size integer not null check (vc_size > 0),
  -- VM → node, e.g. {"vm1": "n1", "vm2": "n2"}
  placement jsonb not null,
  accel text not null check (accel in ('kvm', 'tcg')),
  image text not null,
  seconds integer not null check (seconds > 0),
  started_at timestamptz not null default now()
);
create index if not exists experiment_runs_kind on experiment_runs (kind, started_at);

create table if not exists experiment_results (
  run_id bigint not null references experiment_runs (id) on delete cascade,
  probe text not null,
  -- where or between what: 'vm', 'node', 'vm-vm same node', 'vm overlay', …
  target text not null,
  -- e.g. the message size in bytes; '' when the probe has none
  param text not null default '',
  value double precision not null,
  unit text not null,
  primary key (run_id, probe, target, param)
);
