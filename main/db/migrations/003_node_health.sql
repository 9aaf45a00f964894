-- Node health (main/health). A lease per node: the instant until which a live party vouched
-- for it. It lives in its own table with no NOTIFY trigger, because it is renewed every few
-- seconds and would wake every workstation each time; only a change of a node's health (on
-- nodes, which notifies) is news. The admin's state (maintenance, evacuating) is kept apart
-- from the health the app derives, so a maintenance node that is switched off stays in
-- maintenance and a crash during an evacuation still shows.
create table node_leases (
  node        text primary key references nodes (name) on update cascade on delete cascade,
  lease_until timestamptz not null,
  -- who renewed it last: a workstation (on the node's behalf) or the node's own watchdog
  renewed_by  text not null,
  renewed_at  timestamptz not null default now()
);

alter table nodes add column admin_state text not null default 'active'
  check (admin_state in ('active', 'maintenance', 'evacuating'));
alter table nodes add column health text not null default 'unknown'
  check (health in ('unknown', 'up', 'unreachable', 'down', 'maintenance', 'evacuating'));
alter table nodes add column health_since timestamptz;
-- set by a fencing agent (HA restart) once it has made sure the node runs nothing
alter table nodes add column fenced_at timestamptz;
-- the last evacuation's outcome: {"task": id, "failed": [{"vc","vm","reason"}], "moved": [{"vc","vm","from","to"}]}
alter table nodes add column evacuation jsonb not null default '{}';

-- Renew for the given nodes, never shortening a lease another party granted for longer.
create function vlx_renew_leases(names text[], seconds integer, who text) returns void language sql as $$
  insert into node_leases (node, lease_until, renewed_by)
    select n, now() + make_interval(secs => seconds), who from unnest(names) as n
      where exists (select 1 from nodes where name = n)
  on conflict (node) do update set
    lease_until = greatest(node_leases.lease_until, excluded.lease_until),
    renewed_by = excluded.renewed_by, renewed_at = now();
$$;
