/** SFTP drop: what the poller saw, what it did with each file, tenant claims across replicas, reachability. */
export const sql = /* sql */ `
-- The latest size and mtime of every candidate file in a tenant's inbox, and since when it is unchanged.
create table drop_observations (
  tenant_id text not null,
  path text not null,
  size bigint not null,
  mtime bigint not null,                 -- seconds since the epoch, as SFTP reports it
  since timestamptz not null,            -- first observation with this size and mtime
  observations integer not null default 1,
  last_seen_at timestamptz not null,
  primary key (tenant_id, path)
);

-- The registry: one row per file version (path + size + mtime) the poller took. In read-only mode
-- it alone says what was seen.
create table drop_files (
  id bigserial primary key,
  tenant_id text not null,
  path text not null,                    -- where it was found (the inbox)
  file_name text not null,
  size bigint not null,
  mtime bigint not null,
  state text not null default 'pending'
    check (state in ('pending', 'ingested', 'held', 'done')),
  outcome text,                          -- accepted | duplicate | rejected | held | too_large
  reason text,
  run_id bigint references runs(id) on delete set null,
  sha256 text,
  attempts integer not null default 0,
  last_error text,
  moved_to text,
  processed_by text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (tenant_id, path, size, mtime)
);
create index drop_files_open_idx on drop_files (tenant_id) where state <> 'done';
create index drop_files_run_idx on drop_files (run_id);

-- One poller per tenant at a time across replicas; a crashed poller's claim expires and is taken over.
create table drop_tenant_claims (
  tenant_id text primary key,
  claimed_by text not null,
  expires_at timestamptz not null
);

-- Reachability of the drop across ticks and replicas: one alert per outage, one on recovery.
create table drop_health (
  id integer primary key default 1 check (id = 1),
  consecutive_failures integer not null default 0,
  first_failure_at timestamptz,
  last_failure_at timestamptz,
  last_error text,
  alerted_at timestamptz,
  last_success_at timestamptz
);
insert into drop_health (id) values (1);
`;
