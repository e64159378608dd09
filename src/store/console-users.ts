import type { Queryable } from './db.js';

export const ROLES = ['viewer', 'csm', 'operator'] as const;
export type Role = (typeof ROLES)[number];

export interface ConsoleUser {
  name: string;
  role: Role;
  passwordHash: string;
  createdAt: Date;
}

interface UserRow {
  name: string;
  role: Role;
  password_hash: string;
  created_at: Date;
}

const toUser = (row: UserRow): ConsoleUser => ({ name: row.name, role: row.role, passwordHash: row.password_hash, createdAt: row.created_at });

/**
 * Adds a user, or replaces the role and password of an existing one; true when it was new. A replaced
 * password ends the user's sessions: it is what an operator does when one may be known to someone else,
 * and a session signed in with it must not outlive it.
 */
export async function upsertUser(db: Queryable, user: { name: string; role: Role; passwordHash: string }): Promise<boolean> {
  const result = await db.query<{ inserted: boolean }>(
    `insert into console_users (name, role, password_hash) values ($1, $2, $3)
     on conflict (name) do update set role = excluded.role, password_hash = excluded.password_hash
     returning (xmax = 0) as inserted`,
    [user.name, user.role, user.passwordHash],
  );
  const inserted = result.rows[0]!.inserted;
  if (!inserted) await endSessions(db, user.name);
  return inserted;
}

/** Adds a user only when the table is empty (the first operator); false when someone exists. */
export async function insertFirstUser(db: Queryable, user: { name: string; role: Role; passwordHash: string }): Promise<boolean> {
  const result = await db.query(
    `insert into console_users (name, role, password_hash)
     select $1, $2, $3 where not exists (select 1 from console_users) on conflict do nothing`,
    [user.name, user.role, user.passwordHash],
  );
  return (result.rowCount ?? 0) > 0;
}

export async function findUser(db: Queryable, name: string): Promise<ConsoleUser | null> {
  const result = await db.query<UserRow>('select name, role, password_hash, created_at from console_users where name = $1', [name]);
  return result.rows[0] ? toUser(result.rows[0]) : null;
}

export async function listUsers(db: Queryable): Promise<ConsoleUser[]> {
  const result = await db.query<UserRow>('select name, role, password_hash, created_at from console_users order by name');
  return result.rows.map(toUser);
}

/** True when the user existed. Their sessions end (each request also looks the user up). */
export async function removeUser(db: Queryable, name: string): Promise<boolean> {
  const result = await db.query('delete from console_users where name = $1', [name]);
  await endSessions(db, name);
  return (result.rowCount ?? 0) > 0;
}

/** Deletes the console sessions signed in as NAME (the session store keeps the name in its JSON). */
async function endSessions(db: Queryable, name: string): Promise<void> {
  await db.query(`delete from console_sessions where data->>'userName' = $1`, [name]);
}
