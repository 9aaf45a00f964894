-- HA restart with self-fencing (main/ha). Marks per VC (the default) and per VM (null: the
-- VC's): whether a VM is restarted elsewhere when its node is confirmed down, its restart
-- priority (higher first, across VCs) and its start order within its VC (lower first; null:
-- its index).
alter table vcs add column ha boolean not null default false;
alter table vcs add column ha_priority integer not null default 0 check (ha_priority between -1000 and 1000);
alter table vms add column ha boolean;
alter table vms add column ha_priority integer check (ha_priority between -1000 and 1000);
alter table vms add column ha_order integer check (ha_order between 0 and 1000);

-- The node's own watchdog (not the app on its behalf) reports here at each renewal whether it
-- is armed, i.e. will kill its node's QEMUs when it cannot renew. A node's HA VMs are restarted
-- elsewhere only if its watchdog said so at its last renewal: with no armed watchdog, a node
-- that is only cut off would keep running them.
alter table node_leases add column fence_armed boolean not null default false;
alter table node_leases add column watchdog_at timestamptz;

-- Which login role is which node's watchdog (created by `vlx db deploy`; it may call only
-- vlx_watchdog_renew, which finds the node from the role: it renews its own lease, no other).
create table watchdog_roles (
  role text primary key check (role ~ '^vlx_wd_[a-z][a-z0-9_]{0,31}$'),
  node text not null unique check (node ~ '^[a-z][a-z0-9-]{0,31}$')
);

-- One row per VM of a node confirmed down, per stay of the VM on that node (mapped_since):
-- the primary key is the claim, so of two workstations that notice at once only one inserts
-- it and restarts the VM. It also is the record `vc status` reads: what was done and why.
create table ha_restarts (
  vc           text not null,
  vm           text not null,
  from_node    text not null,
  mapped_since timestamptz not null,
  claimed_by   text not null,
  claimed_at   timestamptz not null default now(),
  action       text not null check (action in ('restart', 'left-stopped', 'refused')),
  to_node      text,
  reason       text,
  task_id      uuid,
  done_at      timestamptz,
  primary key (vc, vm, from_node, mapped_since),
  foreign key (vc, vm) references vms (vc, name) on update cascade on delete cascade
);
create index ha_restarts_open on ha_restarts (vc) where done_at is null;

-- Renew the calling watchdog's own lease (never shortening one) and record whether it is armed
-- (intent: what it will be once it has this answer). Answers whether it should be armed: its
-- node holds an HA VM. Security definer: the watchdog's role has no right on any table.
create function vlx_watchdog_renew(intent boolean, seconds integer) returns boolean
  language plpgsql security definer set search_path = public, pg_temp as $$
declare
  me text;
begin
  select node into me from watchdog_roles where role = session_user;
  if me is null then
    raise exception 'role % is no node watchdog', session_user using errcode = 'insufficient_privilege';
  end if;
  if seconds is null or seconds < 1 or seconds > 60 then
    raise exception 'seconds: must be 1 to 60 (got %)', seconds using errcode = 'invalid_parameter_value';
  end if;
  if not exists (select 1 from nodes where name = me) then return false; end if;
  insert into node_leases (node, lease_until, renewed_by, fence_armed, watchdog_at)
    values (me, now() + make_interval(secs => seconds), 'watchdog ' || me, coalesce(intent, false), now())
  on conflict (node) do update set
    lease_until = greatest(node_leases.lease_until, excluded.lease_until),
    renewed_by = excluded.renewed_by, renewed_at = now(), fence_armed = excluded.fence_armed, watchdog_at = now();
  return exists (select 1 from mapping m join vms v on v.vc = m.vc and v.name = m.vm join vcs c on c.name = v.vc
                  where m.node = me and coalesce(v.ha, c.ha));
end $$;
revoke all on function vlx_watchdog_renew(boolean, integer) from public;
