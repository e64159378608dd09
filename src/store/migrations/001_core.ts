/** Core store: member state, runs, their changes, errors and files. */
export const sql = /* sql */ `
create table tenants (
  id text primary key,
  name text not null,
  created_at timestamptz not null default now()
);

-- Every member of a tenant the store knows (its last accepted row is in member_rows) and whether the
-- member is on the platform. Narrow on purpose: the diff scans all of a tenant's members (key, hash,
-- flag) and reads member_rows only for the few that change.
create table members (
  tenant_id text not null references tenants(id),
  member_key text not null,          -- employee_id, or lower-cased email
  email text not null,               -- lower-cased
  employee_id text,
  row_hash text not null,            -- hash of the file's columns and values, for a fast unchanged check
  on_platform boolean not null default false,
  updated_run_id bigint,
  primary key (tenant_id, member_key)
);

-- The last accepted row of each member (canonical field -> trimmed, normalised value). Written only
-- with its members row, in the same statement sequence (no foreign key: no per-row trigger on big loads).
create table member_rows (
  tenant_id text not null,
  member_key text not null,
  data jsonb not null,
  primary key (tenant_id, member_key)
);

create table runs (
  id bigserial primary key,
  tenant_id text not null references tenants(id),
  file_name text not null,
  file_date date,
  source text not null default 'local',        -- local | drop | baseline
  sha256 text not null,
  status text not null check (status in ('accepted', 'rejected', 'held', 'duplicate')),
  key_field text,                               -- employee_id | email
  rows integer not null default 0,
  counts jsonb not null default '{}'::jsonb,
  error_count integer not null default 0,
  warnings jsonb not null default '[]'::jsonb,
  reasons jsonb not null default '[]'::jsonb,
  columns jsonb not null default '[]'::jsonb,   -- output columns (canonical names) of this file
  base_run_id bigint,                           -- last accepted run the diff was taken against
  duplicate_of bigint,                          -- duplicate: the accepted/held run with the same content
  timings jsonb not null default '{}'::jsonb,
  decided_by text,                              -- approve/reject of a held run
  decided_at timestamptz,
  created_at timestamptz not null default now(),
  finished_at timestamptz,
  purged_at timestamptz                         -- retention removed its changes, errors and files
);
create index runs_tenant_idx on runs (tenant_id, id desc);
create index runs_tenant_sha_idx on runs (tenant_id, sha256);
-- The same content is never held twice for a tenant. (It may be accepted again later: a file equal to an
-- older one, e.g. after someone left and came back, is a real change against the current state.)
create unique index runs_tenant_sha_held on runs (tenant_id, sha256) where status = 'held';

-- What a run changes (or, while held, would change). Files are rendered from these rows.
-- kind store/forget: silent state changes of members not on the platform (no output file).
-- run_changes and run_errors are written only with their run, in its transaction; no foreign key, so a
-- first file of a million rows does not pay a million trigger calls. Runs are never deleted (retention
-- removes these rows and keeps the run).
create table run_changes (
  run_id bigint not null,
  kind text not null check (kind in ('invite', 'update', 'deletion', 'store', 'forget')),
  change_type text,                             -- update: update | deactivation | reactivation
  member_key text not null,
  line integer,                                 -- line in the file (null for deletions)
  data jsonb,                                   -- the new row (invite/update/store), the old row (deletion)
  row_hash text,                                -- hash of the new row (invite/update/store)
  changed_fields text[],
  primary key (run_id, kind, member_key)
);

create table run_errors (
  run_id bigint not null,
  seq integer not null,
  line integer,
  column_name text,
  value text,
  message text not null,
  primary key (run_id, seq)
);

create table run_files (
  run_id bigint not null references runs(id) on delete cascade,
  kind text not null check (kind in ('invites', 'updates', 'deletions', 'errors')),
  file_name text not null,                      -- path as written
  row_count integer not null,
  created_at timestamptz not null default now(),
  primary key (run_id, kind)
);
`;
