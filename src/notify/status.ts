/**
 * Where alerts stand, for `runs show`, /metrics, /healthz and `notify retry`: delivered, pending (being
 * retried) or failed (a permanent error; waits for `hris-ingest notify retry`).
 */
import type { Queryable } from '../store/db.js';

export type AlertState = 'delivered' | 'pending' | 'failed';

export interface AlertStatus {
  id: number;
  kind: string;
  state: AlertState;
  attempts: number;
  /** The last error (pending: the outage being retried; failed: why it stopped). */
  error: string | null;
  /** Slack refused the full message for its content; the short form was (or will be) sent. */
  shortForm: string | null;
  deliveredAt: string | null;
  failedAt: string | null;
}

interface StatusRow {
  id: number;
  kind: string;
  attempts: number;
  last_error: string | null;
  fallback_reason: string | null;
  delivered_at: Date | null;
  failed_at: Date | null;
}

const COLUMNS = 'id::int as id, kind, attempts, last_error, fallback_reason, delivered_at, failed_at';

function toStatus(row: StatusRow): AlertStatus {
  return {
    id: row.id,
    kind: row.kind,
    state: row.delivered_at ? 'delivered' : row.failed_at ? 'failed' : 'pending',
    attempts: row.attempts,
    error: row.delivered_at ? null : row.last_error,
    shortForm: row.fallback_reason,
    deliveredAt: row.delivered_at?.toISOString() ?? null,
    failedAt: row.failed_at?.toISOString() ?? null,
  };
}

/** The alerts of one run, oldest first. */
export async function runAlerts(db: Queryable, runId: number): Promise<AlertStatus[]> {
  const result = await db.query<StatusRow>(`select ${COLUMNS} from outbox where run_id = $1 order by id`, [runId]);
  return result.rows.map(toStatus);
}

/** Alerts marked failed and not delivered since: how many, and the first few ids (oldest first). */
export async function failedAlerts(db: Queryable, listed = 10): Promise<{ count: number; ids: number[] }> {
  const result = await db.query<{ count: number; ids: number[] | null }>(
    `select count(*)::int as count, (array_agg(id::int order by id))[1:$1] as ids
     from outbox where failed_at is not null and delivered_at is null`,
    [listed],
  );
  return { count: result.rows[0]?.count ?? 0, ids: result.rows[0]?.ids ?? [] };
}

/**
 * Makes alerts due again: the failed ones (ALL_FAILED) or the given ids, if not delivered and not being
 * delivered right now (a delivery's lease in locked_until: taking it away would post the alert twice).
 * Clears the failure and, for an alert not posted yet, the short-form mark (the full message is tried
 * first again: the cause may be fixed; one already posted keeps it, as its message is the short form).
 * Returns the ids requeued.
 */
export async function requeueAlerts(db: Queryable, which: { ids: number[] } | { allFailed: true }): Promise<number[]> {
  const ids = 'ids' in which ? which.ids : null;
  const result = await db.query<{ id: number }>(
    `update outbox set failed_at = null, locked_until = null, next_attempt_at = now(),
            -- a message already posted (its files failed) was posted in its short form when so marked: it stays
            fallback_reason = case when message_ts is null then null else fallback_reason end
     where delivered_at is null and (locked_until is null or locked_until <= now())
       and ($1::bigint[] is null and failed_at is not null or id = any($1::bigint[]))
     returning id::int as id`,
    [ids],
  );
  return result.rows.map((row) => row.id).sort((a, b) => a - b);
}

/** The status of the given alerts (missing ids are left out). */
export async function alertStatuses(db: Queryable, ids: number[]): Promise<AlertStatus[]> {
  const result = await db.query<StatusRow>(`select ${COLUMNS} from outbox where id = any($1::bigint[]) order by id`, [ids]);
  return result.rows.map(toStatus);
}
