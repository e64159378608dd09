import type { Queryable } from '../store/db.js';

/** Claims and the file registry in PostgreSQL: what makes pollers on several replicas agree. */

export async function claimTenant(db: Queryable, tenantId: string, pollerId: string, claimSeconds: number): Promise<boolean> {
  const result = await db.query(
    `insert into drop_tenant_claims (tenant_id, claimed_by, expires_at)
     values ($1, $2, now() + make_interval(secs => $3))
     on conflict (tenant_id) do update set claimed_by = excluded.claimed_by, expires_at = excluded.expires_at
       where drop_tenant_claims.expires_at < now() or drop_tenant_claims.claimed_by = excluded.claimed_by
     returning tenant_id`,
    [tenantId, pollerId, claimSeconds],
  );
  return result.rowCount === 1;
}

/** Extends a claim still held; false when it expired and another poller took it. */
export async function extendClaim(db: Queryable, tenantId: string, pollerId: string, claimSeconds: number): Promise<boolean> {
  const result = await db.query(
    `update drop_tenant_claims set expires_at = now() + make_interval(secs => $3)
     where tenant_id = $1 and claimed_by = $2`,
    [tenantId, pollerId, claimSeconds],
  );
  return result.rowCount === 1;
}

export async function releaseTenant(db: Queryable, tenantId: string, pollerId: string): Promise<void> {
  await db.query('delete from drop_tenant_claims where tenant_id = $1 and claimed_by = $2', [tenantId, pollerId]);
}

/** Every tenant claim of POLLERID (a service abandoning its work on shutdown). */
export async function releaseAllClaims(db: Queryable, pollerId: string): Promise<void> {
  await db.query('delete from drop_tenant_claims where claimed_by = $1', [pollerId]);
}

export interface Observed {
  path: string;
  size: number;
  mtime: number;
}

/**
 * Records this listing and says which files are stable: seen at least twice with the same size and
 * mtime, the first of those observations at least STABLE_SECONDS ago. `now` (tests) replaces the
 * database clock. Observations of files gone from the inbox are dropped.
 */
export async function observe(
  db: Queryable,
  tenantId: string,
  files: Observed[],
  stableSeconds: number,
  now?: Date,
): Promise<Set<string>> {
  await db.query('delete from drop_observations where tenant_id = $1 and not (path = any($2::text[]))', [
    tenantId,
    files.map((f) => f.path),
  ]);
  if (files.length === 0) return new Set();
  const result = await db.query<{ path: string; stable: boolean }>(
    `insert into drop_observations as o (tenant_id, path, size, mtime, since, last_seen_at)
     select $1, t.path, t.size, t.mtime, coalesce($5::timestamptz, now()), coalesce($5::timestamptz, now())
       from unnest($2::text[], $3::bigint[], $4::bigint[]) as t(path, size, mtime)
     on conflict (tenant_id, path) do update set
       since = case when o.size = excluded.size and o.mtime = excluded.mtime then o.since else excluded.since end,
       observations = case when o.size = excluded.size and o.mtime = excluded.mtime then o.observations + 1 else 1 end,
       size = excluded.size, mtime = excluded.mtime, last_seen_at = excluded.last_seen_at
     returning path, observations >= 2 and last_seen_at - since >= make_interval(secs => $6) as stable`,
    [tenantId, files.map((f) => f.path), files.map((f) => f.size), files.map((f) => f.mtime), now ?? null, stableSeconds],
  );
  return new Set(result.rows.filter((r) => r.stable).map((r) => r.path));
}

/** The file changed under us: it has to be stable again from now on. */
export async function forgetObservation(db: Queryable, tenantId: string, path: string): Promise<void> {
  await db.query('delete from drop_observations where tenant_id = $1 and path = $2', [tenantId, path]);
}

export type FileState = 'pending' | 'ingested' | 'held' | 'done';
export type FileOutcomeKind = 'accepted' | 'duplicate' | 'rejected' | 'held' | 'too_large';

export interface DropFileRow {
  id: number;
  tenantId: string;
  path: string;
  fileName: string;
  size: number;
  mtime: number;
  state: FileState;
  outcome: FileOutcomeKind | null;
  reason: string | null;
  runId: number | null;
  /** Status of the run now (a held run may have been approved or rejected since; 'superseded': made moot, migration 050). */
  runStatus: string | null;
  attempts: number;
  movedTo: string | null;
}

const SELECT_FILE = `
  select f.id, f.tenant_id, f.path, f.file_name, f.size, f.mtime, f.state, f.outcome, f.reason, f.run_id,
         case when r.status = 'held' and r.superseded_by is not null then 'superseded' else r.status end as run_status,
         f.attempts, f.moved_to
    from drop_files f left join runs r on r.id = f.run_id`;

interface FileRowRaw {
  id: string;
  tenant_id: string;
  path: string;
  file_name: string;
  size: string;
  mtime: string;
  state: FileState;
  outcome: FileOutcomeKind | null;
  reason: string | null;
  run_id: string | null;
  run_status: string | null;
  attempts: number;
  moved_to: string | null;
}

function toRow(raw: FileRowRaw): DropFileRow {
  return {
    id: Number(raw.id),
    tenantId: raw.tenant_id,
    path: raw.path,
    fileName: raw.file_name,
    size: Number(raw.size),
    mtime: Number(raw.mtime),
    state: raw.state,
    outcome: raw.outcome,
    reason: raw.reason,
    runId: raw.run_id === null ? null : Number(raw.run_id),
    runStatus: raw.run_status,
    attempts: raw.attempts,
    movedTo: raw.moved_to,
  };
}

/** The registry row of this file version, created (state pending) when new. */
export async function registerFile(db: Queryable, tenantId: string, file: Observed & { name: string }): Promise<DropFileRow> {
  await db.query(
    `insert into drop_files (tenant_id, path, file_name, size, mtime) values ($1, $2, $3, $4, $5)
     on conflict (tenant_id, path, size, mtime) do nothing`,
    [tenantId, file.path, file.name, file.size, file.mtime],
  );
  const found = await findFile(db, tenantId, file);
  if (!found) throw new Error(`drop registry: row for ${file.path} vanished`);
  return found;
}

export async function findFile(db: Queryable, tenantId: string, file: Observed): Promise<DropFileRow | undefined> {
  const result = await db.query<FileRowRaw>(`${SELECT_FILE} where f.tenant_id = $1 and f.path = $2 and f.size = $3 and f.mtime = $4`, [
    tenantId,
    file.path,
    file.size,
    file.mtime,
  ]);
  return result.rows[0] ? toRow(result.rows[0]) : undefined;
}

export async function fileById(db: Queryable, id: number): Promise<DropFileRow | undefined> {
  const result = await db.query<FileRowRaw>(`${SELECT_FILE} where f.id = $1`, [id]);
  return result.rows[0] ? toRow(result.rows[0]) : undefined;
}

/** Files of a tenant taken but not yet archived: ingested, or held (awaiting a decision). */
export async function unsettledFiles(db: Queryable, tenantId: string): Promise<DropFileRow[]> {
  const result = await db.query<FileRowRaw>(`${SELECT_FILE} where f.tenant_id = $1 and f.state in ('ingested', 'held') order by f.id`, [tenantId]);
  return result.rows.map(toRow);
}

export async function filesOfRun(db: Queryable, runId: number): Promise<DropFileRow[]> {
  const result = await db.query<FileRowRaw>(`${SELECT_FILE} where f.run_id = $1 and f.state in ('ingested', 'held') order by f.id`, [runId]);
  return result.rows.map(toRow);
}

/**
 * Records the outcome of a file. Only a pending row moves on, so a poller whose claim was taken over
 * cannot overwrite what the new owner recorded; false when the row was no longer pending.
 */
export async function recordOutcome(
  db: Queryable,
  id: number,
  outcome: { kind: FileOutcomeKind; runId?: number; sha256?: string; reason?: string; pollerId: string },
): Promise<boolean> {
  const result = await db.query(
    `update drop_files set state = $2, outcome = $3, run_id = $4, sha256 = $5, reason = $6, processed_by = $7,
       last_error = null, updated_at = now()
     where id = $1 and state = 'pending'`,
    [id, outcome.kind === 'held' ? 'held' : 'ingested', outcome.kind, outcome.runId ?? null, outcome.sha256 ?? null, outcome.reason ?? null, outcome.pollerId],
  );
  return result.rowCount === 1;
}

export async function recordAttemptFailed(db: Queryable, id: number, error: string): Promise<void> {
  await db.query(`update drop_files set attempts = attempts + 1, last_error = $2, updated_at = now() where id = $1`, [id, error.slice(0, 500)]);
}

/** A held run was decided: the file moves like an accepted or rejected one. */
export async function markSettling(db: Queryable, id: number, kind: 'accepted' | 'rejected'): Promise<void> {
  await db.query(`update drop_files set state = 'ingested', outcome = $2, updated_at = now() where id = $1 and state = 'held'`, [id, kind]);
}

export async function markDone(db: Queryable, id: number, movedTo: string | null): Promise<void> {
  await db.query(`update drop_files set state = 'done', moved_to = $2, updated_at = now() where id = $1`, [id, movedTo]);
}
