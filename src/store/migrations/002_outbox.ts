/** Alerts to deliver, written in the same transaction as the run they are about. */
export const sql = /* sql */ `
create table outbox (
  id bigserial primary key,
  tenant_id text,
  run_id bigint references runs(id) on delete set null,
  kind text not null,                 -- run | drop_unreachable | drop_recovered | test
  payload jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  locked_until timestamptz,
  delivered_at timestamptz,
  delivery_ref text,                  -- Slack message ts, or the local alert folder
  last_error text
);
create index outbox_pending_idx on outbox (next_attempt_at) where delivered_at is null;
`;
