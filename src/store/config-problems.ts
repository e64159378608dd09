import { transaction, type Database } from './db.js';
import { enqueueAlert } from './outbox.js';

/** How long a problem no longer seen is remembered: back within it, it is not reported again. */
const FORGET_AFTER = `interval '1 day'`;

/**
 * Records a configuration problem under KEY and queues its 'config_problem' alert, in one transaction,
 * unless it was reported before (by this or another replica): true only the first time. Seen again
 * while marked resolved, it is unresolved without a new alert.
 */
export async function reportConfigProblemOnce(db: Database, key: string, payload: Record<string, unknown>): Promise<boolean> {
  return transaction(db.pool, async (client) => {
    const known = await client.query(`update config_problems set resolved_at = null where key = $1 and resolved_at is not null`, [key]);
    if (known.rowCount === 1) return false;
    const inserted = await client.query('insert into config_problems (key, payload) values ($1, $2) on conflict (key) do nothing', [key, JSON.stringify(payload)]);
    if (inserted.rowCount !== 1) return false;
    await enqueueAlert(client, { kind: 'config_problem', payload });
    return true;
  });
}

/**
 * Marks reported problems under PREFIX that are gone (not in CURRENT) resolved, and forgets those resolved
 * for a day: if one comes back after that, it is reported again.
 */
export async function forgetResolvedProblems(db: Database, prefix: string, current: string[]): Promise<void> {
  await db.pool.query(
    `update config_problems set resolved_at = now() where starts_with(key, $1) and key <> all($2::text[]) and resolved_at is null`,
    [prefix, current],
  );
  await db.pool.query(`delete from config_problems where starts_with(key, $1) and resolved_at < now() - ${FORGET_AFTER}`, [prefix]);
}
