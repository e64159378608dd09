/** The late-file watch: when each watched tenant was first seen, and one claim row per alerted window. */
export const sql = /* sql */ `
-- A tenant with no file yet is watched from the first time a poller saw it with an expect: cadence.
create table late_watch_tenants (
  tenant_id text primary key,
  first_seen_at timestamptz not null
);

-- One row per missed window that was alerted: the claim that makes the alert once across replicas and
-- restarts. Windows count from an anchor (the tenant's last file, or its first-seen time); window_no 1
-- is the first after it. The first alert for an anchor is 'late' (whatever window it was noticed in),
-- later ones 'still_late'.
create table late_alerts (
  id bigserial primary key,
  tenant_id text not null,
  anchor_at timestamptz not null,
  window_no integer not null,
  due_at timestamptz not null,
  kind text not null check (kind in ('late', 'still_late')),
  outbox_id bigint,
  created_at timestamptz not null default now(),
  unique (tenant_id, anchor_at, window_no)
);
create unique index late_alerts_first_idx on late_alerts (tenant_id, anchor_at) where kind = 'late';
`;
