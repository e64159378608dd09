/**
 * Outbox delivery in two steps: the message is posted and its ts recorded, then the files go up in its
 * thread. A retry after a failed upload re-uploads the files only, never the message again.
 */
export const sql = /* sql */ `
alter table outbox add column channel_id text;         -- where the message went (Slack channel id; local: 'local')
alter table outbox add column message_ts text;         -- the posted message (Slack ts; local: the alert folder)
alter table outbox add column files_done_at timestamptz;
alter table outbox add column last_attempt_at timestamptz;
create index outbox_run_idx on outbox (run_id) where delivered_at is null;
`;
