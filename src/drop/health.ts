import type pg from 'pg';
import type { Logger } from '../log.js';
import { enqueueAlert } from '../store/outbox.js';
import { transaction } from '../store/db.js';

/**
 * Reachability of the drop, shared by all replicas and by one-shot `poll --once` processes through the
 * drop_health row: one `drop_unreachable` alert per outage (after ALERT_AFTER failed ticks in a row)
 * and one `drop_recovered` when a tick reaches the drop again.
 */
export async function recordDropFailure(
  pool: pg.Pool,
  failure: { where: string; error: string; alertAfterFailures: number },
  logger: Logger,
): Promise<{ failures: number; alerted: boolean }> {
  return transaction(pool, async (client) => {
    const row = (
      await client.query<{ consecutive_failures: number; first_failure_at: Date; alerted_at: Date | null }>(
        `update drop_health set consecutive_failures = consecutive_failures + 1,
           first_failure_at = coalesce(first_failure_at, now()), last_failure_at = now(), last_error = $1
         where id = 1 returning consecutive_failures, first_failure_at, alerted_at`,
        [failure.error.slice(0, 500)],
      )
    ).rows[0]!;
    const failures = row.consecutive_failures;
    // Log with backoff: the 1st, 2nd, 4th, 8th ... failure in a row at warn level, the rest at debug.
    const level = (failures & (failures - 1)) === 0 ? 'warn' : 'debug';
    logger[level]({ drop: failure.where, failures, err: failure.error }, 'drop unreachable');
    let alerted = false;
    if (failures >= failure.alertAfterFailures && row.alerted_at === null) {
      await client.query('update drop_health set alerted_at = now() where id = 1');
      await enqueueAlert(client, {
        kind: 'drop_unreachable',
        payload: { drop: failure.where, failures, since: row.first_failure_at.toISOString(), error: failure.error.slice(0, 500) },
      });
      alerted = true;
      logger.error({ drop: failure.where, failures }, 'drop unreachable: alert queued');
    }
    return { failures, alerted };
  });
}

export async function recordDropSuccess(pool: pg.Pool, where: string, logger: Logger): Promise<{ recovered: boolean }> {
  return transaction(pool, async (client) => {
    const before = (
      await client.query<{ consecutive_failures: number; first_failure_at: Date | null; alerted_at: Date | null }>(
        'select consecutive_failures, first_failure_at, alerted_at from drop_health where id = 1 for update',
      )
    ).rows[0]!;
    await client.query(
      `update drop_health set consecutive_failures = 0, first_failure_at = null, alerted_at = null,
         last_error = null, last_success_at = now() where id = 1`,
    );
    if (before.alerted_at === null) {
      if (before.consecutive_failures > 0) logger.info({ drop: where, failures: before.consecutive_failures }, 'drop reachable again');
      return { recovered: false };
    }
    await enqueueAlert(client, {
      kind: 'drop_recovered',
      payload: { drop: where, failures: before.consecutive_failures, since: before.first_failure_at?.toISOString() ?? null },
    });
    logger.info({ drop: where, failures: before.consecutive_failures }, 'drop recovered: alert queued');
    return { recovered: true };
  });
}
