-- VC-wide shared storage is served over NFS by every node. An NFS file handle carries the
-- export's number, so a VC's export must have the same number on every node (a VM that
-- moves keeps its handles) and no two VCs may share one. NFS-Ganesha's export ids are
-- 16-bit and 0 is its pseudo root.
alter table vcs add column share_id integer check (share_id between 1 and 65535);

update vcs set share_id = n.id
  from (select name, row_number() over (order by created_at, name) as id from vcs) n
  where vcs.name = n.name;

alter table vcs alter column share_id set not null;
alter table vcs add constraint vcs_share_id_unique unique (share_id);
