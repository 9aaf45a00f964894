-- The cluster manifest (the install's configuration, successor of INSTALL.info), kept in
-- the database as well as on shared storage: one row, replaced by each install or restore
-- that changes it.
create table if not exists install_manifest (
  id smallint primary key default 1 check (id = 1),
  container text not null,
  body jsonb not null,
  updated_at timestamptz not null default now()
);
