-- The cluster's truth: physical nodes, OS images, virtual clusters and their VMs, where
-- each VM runs, every volume on shared storage, and the tasks that changed any of it.
-- Names follow main/util/names.ts so a row can never hold a name the app would refuse
-- to put in a shell command.

create table nodes (
  name        text primary key check (name ~ '^[a-z][a-z0-9-]{0,31}$'),
  address     text not null unique,
  cores       integer not null check (cores > 0),
  mem_mb      integer not null check (mem_mb > 0),
  state       text not null default 'unknown' check (state in ('unknown', 'up', 'down', 'maintenance')),
  -- what the node really has, as last probed (declared capacity above is what placement uses)
  detected    jsonb not null default '{}',
  last_seen   timestamptz,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);

create table images (
  name            text primary key check (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
  kind            text not null check (kind in ('kernel', 'disk')),
  -- paths on shared storage: {"disk": ...} or {"kernel": ..., "initrd": ..., "disk": ...}
  files           jsonb not null default '{}',
  cmdline         text,
  virtual_bytes   bigint check (virtual_bytes >= 0),
  allocated_bytes bigint check (allocated_bytes >= 0),
  description     text,
  created_at      timestamptz not null default now()
);

create table vcs (
  name          text primary key check (name ~ '^[a-z][a-z0-9-]{0,23}$'),
  state         text not null default 'creating' check (state in (
                  'creating', 'created', 'starting', 'running', 'stopping', 'stopped',
                  'saving', 'saved', 'restoring', 'destroying', 'error')),
  vcpus         integer not null check (vcpus between 1 and 1024),
  mem_mb        integer not null check (mem_mb >= 16),
  disk_gb       integer not null check (disk_gb >= 1),
  swap_mb       integer not null default 0 check (swap_mb >= 0),
  image         text not null references images (name) on update cascade on delete restrict,
  subnet        cidr not null unique,
  policy        text not null default 'block' check (policy in ('block', 'cyclic')),
  mode          text not null default 'strict' check (mode in ('strict', 'free')),
  -- mechanism-specific settings (shared storage mount point, kernel cmdline extras, ...)
  options       jsonb not null default '{}',
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  -- two VCs never share an address: overlapping subnets are refused, not only equal ones
  constraint vcs_subnet_no_overlap exclude using gist (subnet inet_ops with &&)
);

create table vms (
  vc            text not null references vcs (name) on update cascade on delete cascade,
  name          text not null check (name ~ '^[a-z][a-z0-9-]{0,31}$'),
  idx           integer not null check (idx >= 0),
  ip            inet not null unique,
  mac           macaddr not null unique,
  state         text not null default 'defined' check (state in (
                  'defined', 'starting', 'running', 'paused', 'stopping', 'stopped',
                  'saving', 'saved', 'restoring', 'migrating', 'error')),
  desired_state text not null default 'stopped' check (desired_state in ('running', 'stopped', 'saved')),
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  primary key (vc, name),
  unique (vc, idx),
  check (family(ip) = 4 and masklen(ip) = 32)
);

-- A VM's address must lie in its VC's subnet: the routes and firewall rules depend on it.
create function vms_ip_in_subnet() returns trigger language plpgsql as $$
begin
  if not exists (select 1 from vcs where name = new.vc and new.ip << subnet) then
    raise exception 'vm %/% address % is outside the subnet of its vc', new.vc, new.name, new.ip
      using errcode = 'check_violation', constraint = 'vms_ip_in_subnet';
  end if;
  return new;
end $$;
create trigger vms_ip_in_subnet before insert or update of ip, vc on vms
  for each row execute function vms_ip_in_subnet();

-- The current placement: one row per VM that has a node (running, paused or saved there).
create table mapping (
  vc     text not null,
  vm     text not null,
  node   text not null references nodes (name) on update cascade on delete restrict,
  since  timestamptz not null default now(),
  primary key (vc, vm),
  foreign key (vc, vm) references vms (vc, name) on update cascade on delete cascade
);
create index mapping_node on mapping (node);

create table volumes (
  id              bigserial primary key,
  path            text not null unique check (path like '/%'),
  kind            text not null check (kind in ('root', 'swap', 'shared', 'state', 'node-root', 'template')),
  format          text not null default 'qcow2' check (format in ('qcow2', 'raw', 'dir', 'state')),
  backing         text,
  vc              text references vcs (name) on update cascade on delete cascade,
  vm              text,
  node            text references nodes (name) on update cascade on delete cascade,
  virtual_bytes   bigint check (virtual_bytes >= 0),
  allocated_bytes bigint check (allocated_bytes >= 0),
  created_at      timestamptz not null default now(),
  foreign key (vc, vm) references vms (vc, name) on update cascade on delete cascade,
  check (kind not in ('root', 'swap', 'state') or (vc is not null and vm is not null)),
  check (kind <> 'shared' or vc is not null or node is not null),
  check (kind <> 'node-root' or node is not null)
);
create index volumes_vc on volumes (vc, vm);
create index volumes_backing on volumes (backing);

create table tasks (
  id               uuid primary key default gen_random_uuid(),
  kind             text not null,
  target           text not null,
  params           jsonb not null default '{}',
  state            text not null default 'running' check (state in ('running', 'succeeded', 'failed', 'cancelled')),
  progress         real not null default 0 check (progress between 0 and 1),
  current_step     text,
  error            jsonb,
  cancel_requested boolean not null default false,
  lock_key         text not null,
  -- which workstation process runs it: "host pid N"
  host             text not null,
  attempts         integer not null default 1,
  started_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  ended_at         timestamptz,
  check ((state = 'running') = (ended_at is null))
);
create index tasks_kind_target on tasks (kind, target, started_at desc);
create index tasks_started on tasks (started_at desc);
create index tasks_unfinished on tasks (lock_key) where state = 'running';

create table task_steps (
  task_id     uuid not null references tasks (id) on delete cascade,
  idx         integer not null check (idx >= 0),
  name        text not null,
  state       text not null default 'pending' check (state in ('pending', 'running', 'done', 'failed', 'skipped')),
  progress    real not null default 0 check (progress between 0 and 1),
  note        text,
  started_at  timestamptz,
  ended_at    timestamptz,
  primary key (task_id, idx)
);

create table task_log (
  id       bigserial primary key,
  task_id  uuid not null references tasks (id) on delete cascade,
  at       timestamptz not null default now(),
  step     integer,
  line     text not null
);
create index task_log_task on task_log (task_id, id);

-- Other workstations follow changes through LISTEN vlx_events. Payloads stay small (ids
-- only, well under NOTIFY's 8000 bytes); listeners read the rows they care about.
-- Identical payloads in one transaction are delivered once, so a batch of log lines
-- costs one notification.
create function vlx_notify() returns trigger language plpgsql as $$
declare
  rec record;
begin
  if tg_op = 'DELETE' then rec := old; else rec := new; end if;
  if tg_table_name = 'tasks' then
    perform pg_notify('vlx_events', json_build_object('type', 'task', 'id', rec.id, 'state', rec.state,
      'cancel', rec.cancel_requested)::text);
  elsif tg_table_name in ('task_steps', 'task_log') then
    perform pg_notify('vlx_events', json_build_object('type', case tg_table_name when 'task_log' then 'log' else 'task' end,
      'id', rec.task_id)::text);
  elsif tg_table_name = 'vcs' then
    perform pg_notify('vlx_events', json_build_object('type', 'vc', 'name', rec.name)::text);
  elsif tg_table_name in ('vms', 'mapping') then
    perform pg_notify('vlx_events', json_build_object('type', 'vc', 'name', rec.vc)::text);
  elsif tg_table_name = 'nodes' then
    perform pg_notify('vlx_events', json_build_object('type', 'node', 'name', rec.name)::text);
  end if;
  return null;
end $$;

create trigger tasks_notify after insert or update on tasks for each row execute function vlx_notify();
create trigger task_steps_notify after update on task_steps for each row execute function vlx_notify();
create trigger task_log_notify after insert on task_log for each row execute function vlx_notify();
create trigger vcs_notify after insert or update or delete on vcs for each row execute function vlx_notify();
create trigger vms_notify after insert or update or delete on vms for each row execute function vlx_notify();
create trigger mapping_notify after insert or update or delete on mapping for each row execute function vlx_notify();
create trigger nodes_notify after insert or update or delete on nodes for each row execute function vlx_notify();

create function touch_updated_at() returns trigger language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end $$;
create trigger nodes_touch before update on nodes for each row execute function touch_updated_at();
create trigger vcs_touch before update on vcs for each row execute function touch_updated_at();
create trigger vms_touch before update on vms for each row execute function touch_updated_at();
create trigger tasks_touch before update on tasks for each row execute function touch_updated_at();
