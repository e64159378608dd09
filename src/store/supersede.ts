import type { Queryable } from './db.js';
import { enqueueAlert } from './outbox.js';

/**
 * A run was just accepted for TENANT_ID (ingest, approval, baseline): every run of the tenant still held
 * was diffed against a state that is no longer the last accepted one, so it can never be approved. Each is
 * marked superseded by ACCEPTED_RUN_ID and gets a 'run_superseded' alert (a reply in its alert's thread),
 * in the caller's transaction: the mark and the alert exist exactly when the accepted run does.
 */
export async function supersedeHeldRuns(db: Queryable, tenantId: string, acceptedRunId: number): Promise<number[]> {
  const result = await db.query<{ id: number }>(
    `update runs set superseded_by = $2, superseded_at = now()
     where tenant_id = $1 and status = 'held' and superseded_by is null and id <> $2
     returning id::int as id`,
    [tenantId, acceptedRunId],
  );
  const ids = result.rows.map((r) => r.id).sort((a, b) => a - b);
  for (const id of ids) await enqueueAlert(db, { kind: 'run_superseded', tenantId, runId: id, payload: { supersededBy: acceptedRunId } });
  return ids;
}
