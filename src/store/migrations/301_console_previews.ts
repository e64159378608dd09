/**
 * A console preview's files, for their TTL: kept in PostgreSQL so that any replica serves them (they were
 * in the memory and temp folder of the process that made the preview: behind a load balancer, every other
 * replica answered 404). In chunks of at most 1 MiB, read one at a time.
 */
export const sql = /* sql */ `
create table console_preview_files (
  token text not null,
  kind text not null,
  seq int not null,
  user_name text not null,
  file_name text not null,
  expires_at timestamptz not null,
  chunk bytea not null,
  primary key (token, kind, seq)
);
create index console_preview_files_expiry_idx on console_preview_files (expires_at);
`;
