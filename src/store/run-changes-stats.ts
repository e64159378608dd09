import type { Queryable } from './db.js';

/** Rows in a run's files (invites, updates, deletions) from which run_changes is analyzed after it. */
export const ANALYZE_FILE_ROWS_FROM = 200_000;

/**
 * Statistics of run_changes after a big run commits, before its files are rendered. The files read a
 * run's rows in line order through run_changes_line_idx; statistics that did not know the run yet made
 * the planner sort a 1M-row first file's 920k invites on disk instead (4.8 s against 2.0 s; the analyze
 * took 0.4-0.6 s). Outside the run's transaction: there, ANALYZE's lock would be held until the commit and
 * hold up every other tenant's big run. Not for smaller runs: the 1M next file's 83k rows rendered in
 * 0.8 s without it, and the analyze cost 0.5 s. True when it analyzed.
 */
export async function analyzeAfterBigRun(db: Queryable, runId: number, from = ANALYZE_FILE_ROWS_FROM): Promise<boolean> {
  const rows = await db.query<{ n: number }>(
    `select coalesce((counts->>'invites')::int, 0) + coalesce((counts->>'updates')::int, 0) + coalesce((counts->>'deletions')::int, 0) as n
     from runs where id = $1`,
    [runId],
  );
  if ((rows.rows[0]?.n ?? 0) < from) return false;
  await db.query('analyze run_changes');
  return true;
}
