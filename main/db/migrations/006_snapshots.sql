-- VC-wide snapshots (main/snapshots). A snapshot of a VC freezes, at one instant, the file
-- each VM's disk was writing to; the VM then writes to a new overlay on top of it. So every
-- snapshot owns one frozen qcow2 per VM (and, with memory, one state file per VM), and the
-- snapshots of a VC form a tree through their parents: rolling back to an older snapshot
-- and taking a new one starts a branch.
create table snapshots (
  vc          text not null references vcs (name) on update cascade on delete cascade,
  tag         text not null check (tag ~ '^[a-z][a-z0-9-]{0,31}$'),
  -- the snapshot the VC ran on when this one was taken; null for the first of a tree
  parent      text,
  -- taking: recorded, not all disks frozen yet; ready; deleting: its files are being merged away
  state       text not null default 'taking' check (state in ('taking', 'ready', 'deleting')),
  with_memory boolean not null default false,
  -- whether the VC ran when it was taken (a memory snapshot needs it)
  was_running boolean not null default false,
  -- first stop to last cont, for a running VC
  pause_ms    real check (pause_ms >= 0),
  created_at  timestamptz not null default now(),
  primary key (vc, tag)
);

-- One row per VM of a snapshot: the frozen disk and its size, the overlay the VM moved on to
-- when the snapshot was taken, and the RAM state when taken with memory.
create table snapshot_disks (
  vc          text not null,
  tag         text not null,
  vm          text not null,
  disk        text not null check (disk like '/%'),
  overlay     text not null check (overlay like '/%'),
  state_file  text check (state_file like '/%'),
  bytes       bigint check (bytes >= 0),
  primary key (vc, tag, vm),
  foreign key (vc, tag) references snapshots (vc, tag) on update cascade on delete cascade,
  foreign key (vc, vm) references vms (vc, name) on update cascade on delete cascade
);

-- The file each VM's disk writes to now and the snapshot under it. A VM with no row runs on
-- the disk its VC was created with (vc/<vc>/<vm>.qcow2) and on no snapshot.
create table disk_heads (
  vc      text not null,
  vm      text not null,
  disk    text not null check (disk like '/%'),
  on_tag  text,
  primary key (vc, vm),
  foreign key (vc, vm) references vms (vc, name) on update cascade on delete cascade
);

-- The VC's head (the snapshot it runs on) and the counter that names new overlays, so two
-- overlays of one VM never share a name.
create table snapshot_heads (
  vc   text primary key references vcs (name) on update cascade on delete cascade,
  tag  text,
  gen  integer not null default 0 check (gen >= 0)
);
