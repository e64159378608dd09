import { PgpKeyError } from '../config/pgp-keys.js';
import { enqueueAlert } from '../store/outbox.js';
import type { Queryable } from '../store/db.js';

/**
 * After a failed ingest: when OUR OpenPGP key was the problem (PgpKeyError: key file, passphrase), one
 * alert per file version, however many ticks it stays in the inbox (the poller retries it every tick).
 */
export async function alertKeyProblem(db: Queryable, tenantId: string, row: { id: number; fileName: string }, error: unknown): Promise<void> {
  if (!(error instanceof PgpKeyError)) return;
  const sent = await db.query(`select 1 from outbox where kind = 'pgp_key' and payload->>'dropFileId' = $1 limit 1`, [String(row.id)]);
  if (sent.rows.length > 0) return;
  await enqueueAlert(db, { kind: 'pgp_key', tenantId, payload: { file: row.fileName, error: error.message, dropFileId: String(row.id) } });
}
