import { transaction, type Database } from './db.js';
import { enqueueAlert } from './outbox.js';

/**
 * Records a configuration problem under KEY and queues its 'config_problem' alert, in one transaction,
 * unless it was reported before (by this or another replica): true only the first time.
 */
export async function reportConfigProblemOnce(db: Database, key: string, payload: Record<string, unknown>): Promise<boolean> {
  return transaction(db.pool, async (client) => {
    const inserted = await client.query('insert into config_problems (key, payload) values ($1, $2) on conflict (key) do nothing', [key, JSON.stringify(payload)]);
    if (inserted.rowCount !== 1) return false;
    await enqueueAlert(client, { kind: 'config_problem', payload });
    return true;
  });
}

/** Forgets reported problems under PREFIX that are gone (not in CURRENT): if one comes back, it is reported again. */
export async function forgetResolvedProblems(db: Database, prefix: string, current: string[]): Promise<void> {
  await db.pool.query('delete from config_problems where starts_with(key, $1) and key <> all($2::text[])', [prefix, current]);
}
