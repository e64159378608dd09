import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, transaction, type Database } from '../src/store/db.js';
import { privatePostgresUnavailable, startPrivatePostgres, type PrivatePostgres } from './support/private-postgres.js';
import { serviceMissing } from './support/services.js';

const skip = privatePostgresUnavailable() ? serviceMissing('postgresql', privatePostgresUnavailable()!) : false;

/**
 * Found by the soak: PostgreSQL restarted while an ingest held its transaction's connection between two
 * statements (the reader parsing the next batch) killed the whole service with an unhandled 'error'
 * event of the checked-out pg client. On a private cluster (never the shared server).
 */
describe.skipIf(skip)('a PostgreSQL restart during a transaction', () => {
  let server: PrivatePostgres;
  let db: Database;
  beforeAll(async () => {
    server = await startPrivatePostgres();
    db = await openDatabase({ url: await server.createDatabase('restart') });
  }, 60_000);
  afterAll(async () => {
    await db?.close();
    await server?.stop();
  });

  it('fails that transaction only: the process lives on, and the pool works again', { timeout: 60_000 }, async () => {
    const uncaught: unknown[] = [];
    const record = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', record);
    try {
      const attempt = transaction(db.pool, async (client) => {
        await client.query('create temp table t (n int) on commit drop');
        // Between two statements, as while the reader parses a batch: the server goes away.
        await server.restart('immediate');
        await new Promise((resolve) => setTimeout(resolve, 300));
        await client.query('insert into t values (1)');
      });
      await expect(attempt).rejects.toThrow();
      expect(uncaught).toEqual([]);
      const after = await db.pool.query<{ n: number }>('select 1 as n');
      expect(after.rows[0]!.n).toBe(1);
    } finally {
      process.off('uncaughtException', record);
    }
  });
});
