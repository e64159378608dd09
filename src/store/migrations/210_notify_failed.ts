/**
 * Permanent delivery failures. A failed alert (failed_at) is not claimed again until
 * `hris-ingest notify retry` clears it; fallback_reason records that Slack refused the full message for
 * its content (msg_too_long, invalid_blocks), so every later attempt sends the minimal one.
 */
export const sql = /* sql */ `
alter table outbox add column failed_at timestamptz;
alter table outbox add column fallback_reason text;
create index outbox_failed_idx on outbox (id) where failed_at is not null and delivered_at is null;
`;
