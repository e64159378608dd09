/** Web console: its users, sign-in sessions, audit log, "applied to the platform" marks, shared secret. */
export const sql = /* sql */ `
create table console_users (
  name text primary key,
  role text not null check (role in ('viewer', 'csm', 'operator')),
  password_hash text not null,                 -- scrypt$N$r$p$salt$hash (base64)
  created_at timestamptz not null default now()
);

-- @fastify/session store: one row per browser session (the cookie holds the signed id only).
create table console_sessions (
  id text primary key,
  data jsonb not null,
  expires_at timestamptz not null
);
create index console_sessions_expiry_idx on console_sessions (expires_at);

-- Who did what in the console. Never member data: the subject is a run id, a user name, a file kind.
create table console_audit (
  id bigserial primary key,
  at timestamptz not null default now(),
  actor text,                                  -- console user (null: a failed sign-in of an unknown name)
  action text not null,                        -- sign-in | sign-in-failed | sign-out | download | preview | approve | reject | applied | user-add | user-remove
  detail text not null default ''
);
create index console_audit_at_idx on console_audit (at desc);

-- A CSM uploaded a run's files to the platform (the runbook step after an accepted run).
create table run_applied (
  run_id bigint primary key references runs(id),
  applied_by text not null,
  applied_at timestamptz not null default now()
);

-- Values every replica shares (the session cookie's signing secret when config gives none).
create table console_settings (
  key text primary key,
  value text not null
);
`;
