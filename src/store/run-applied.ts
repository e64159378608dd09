import type { Queryable } from './db.js';

/**
 * "Applied to the platform" marks. A run needs one when it is accepted, came from a customer file (not a
 * baseline import), has something to upload (invites, updates or deletions) and still has its files (not
 * purged by retention: nobody can upload them any more).
 */
const NEEDS_APPLYING = `r.status = 'accepted' and r.source <> 'baseline' and r.purged_at is null
  and (coalesce((r.counts->>'invites')::int, 0) + coalesce((r.counts->>'updates')::int, 0) + coalesce((r.counts->>'deletions')::int, 0)) > 0`;

export interface AppliedMark {
  by: string;
  at: Date;
}

/** Marks an accepted run applied; the first mark stays (who did it first). */
export async function markApplied(db: Queryable, runId: number, by: string): Promise<AppliedMark> {
  await db.query('insert into run_applied (run_id, applied_by) values ($1, $2) on conflict (run_id) do nothing', [runId, by]);
  return (await appliedMark(db, runId))!;
}

export async function appliedMark(db: Queryable, runId: number): Promise<AppliedMark | null> {
  const result = await db.query<{ applied_by: string; applied_at: Date }>('select applied_by, applied_at from run_applied where run_id = $1', [runId]);
  const row = result.rows[0];
  return row ? { by: row.applied_by, at: row.applied_at } : null;
}

/** Whether a run is one whose files must be applied (accepted customer file with changes). */
export async function needsApplying(db: Queryable, runId: number): Promise<boolean> {
  const result = await db.query(`select 1 from runs r where r.id = $1 and ${NEEDS_APPLYING}`, [runId]);
  return (result.rowCount ?? 0) > 0;
}

/** Some run ids (oldest first) and how many there are in all: a list shows the ids and "... and N more". */
export interface RunIds {
  ids: number[];
  total: number;
}

/**
 * The tenant's accepted runs older than RUN_ID (all of them without one) not marked applied, oldest first,
 * at most LIMIT, and their number. With a newer run, these are the runs whose files would be lost if only
 * the newer one were uploaded (its deletions above all).
 */
export async function unappliedRuns(db: Queryable, tenantId: string, options: { before?: number; limit?: number } = {}): Promise<RunIds> {
  const result = await db.query<{ id: number; total: number }>(
    `select r.id::int as id, count(*) over ()::int as total from runs r
     where r.tenant_id = $1 and ($2::bigint is null or r.id < $2) and ${NEEDS_APPLYING}
       and not exists (select 1 from run_applied a where a.run_id = r.id)
     order by r.id limit $3`,
    [tenantId, options.before ?? null, options.limit ?? 20],
  );
  return { ids: result.rows.map((row) => row.id), total: result.rows[0]?.total ?? 0 };
}
