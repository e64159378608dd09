/**
 * Configuration problems already reported (a broken version of a tenant file, a drop folder without a
 * tenant): the first replica to see one inserts its row and queues the alert in the same transaction,
 * so it is said once across replicas and restarts.
 */
export const sql = /* sql */ `
create table config_problems (
  key text primary key,               -- tenant_file:<file>:<sha256 of its bytes> | drop_folder:<folder>
  payload jsonb not null default '{}'::jsonb,
  first_seen_at timestamptz not null default now()
);
`;
