import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantConfigSchema } from '../src/config/tenant.js';
import { createLogger } from '../src/log.js';
import { deliverPending } from '../src/notify/delivery.js';
import type { AlertMessage, Notifier } from '../src/notify/notifier.js';
import { SlackNotifier } from '../src/notify/slack.js';
import { renderRunFiles } from '../src/output/render.js';
import { ingestFile } from '../src/pipeline.js';
import { openDatabase, transaction, type Database } from '../src/store/db.js';
import { startFakeSlack } from './support/fake-slack.js';
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

  it("while a run's files are rendered: the render fails instead of waiting forever", { timeout: 90_000 }, async () => {
    // Found by the soak: the alert delivery stopped for good after a restart during a render (pg-cursor's
    // close() after an error waits for an answer a dead connection never gives).
    const tenant = tenantConfigSchema.parse({ id: 'big', name: 'Big' });
    const rows = ['first_name,last_name,email,employee_id'];
    for (let i = 0; i < 60_000; i++) rows.push(`F${i},L${i},m${i}@big.example.com,E${i}`);
    const content = Buffer.from(`${rows.join('\n')}\n`);
    const summary = await ingestFile({ db }, tenant, { name: 'big - 01.13.2023.csv', open: () => Readable.from([content]) });
    expect(summary.counts.invites).toBe(60_000);
    const dir = await mkdtemp(path.join(tmpdir(), 'hris-render-'));
    try {
      const rendering = renderRunFiles(db, summary.runId!, dir).then(
        () => 'finished',
        (error: Error) => `failed: ${error.message}`,
      );
      // The server goes away once the first file is being written (its cursor open).
      while (!(await readdir(dir)).some((name) => name.endsWith('.part'))) await new Promise((resolve) => setTimeout(resolve, 2));
      await server.restart('immediate');
      const outcome = await Promise.race([rendering, new Promise((resolve) => setTimeout(() => resolve('still waiting after 20 s'), 20_000))]);
      expect(outcome).toMatch(/^failed: /);
      expect(existsSync(path.join(dir, 'big 2023-01-13 potential invites.csv'))).toBe(false);
      const after = await db.pool.query<{ n: number }>('select 1 as n');
      expect(after.rows[0]!.n).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a delivery pass that the restart fails releases its claims on the next pass, not after the 10-minute lease', { timeout: 90_000 }, async () => {
    const tenant = tenantConfigSchema.parse({ id: 'lease', name: 'Lease' });
    const content = Buffer.from('first_name,last_name,email,employee_id\nAda,Lovelace,ada@lease.example.com,E1\n');
    const summary = await ingestFile({ db }, tenant, { name: 'lease - 01.13.2023.csv', open: () => Readable.from([content]) });
    const slack = await startFakeSlack();
    const work = await mkdtemp(path.join(tmpdir(), 'hris-lease-'));
    try {
      const logger = createLogger({ level: 'silent' });
      const slackNotifier = new SlackNotifier({ token: slack.token, channel: '#monitoring-hris-files', apiUrl: slack.url, logger });
      let restarting: Promise<void> | undefined;
      // Slack takes the message; then the server goes away before the outbox can record it.
      const notifier: Notifier = {
        name: 'slack',
        post: async (message: AlertMessage) => {
          const posted = await slackNotifier.post(message);
          if (!restarting) {
            restarting = server.restart('immediate');
            await new Promise((resolve) => setTimeout(resolve, 150));
          }
          return posted;
        },
        attach: (posted, files) => slackNotifier.attach(posted, files),
        send: (message, files) => slackNotifier.send(message, files),
      };
      let now = Date.now();
      const ctx = { db, notifier, tenants: new Map([['lease', tenant]]), logger, workDir: work, now: () => new Date(now) };
      // Only this run's alert: the suite's earlier runs have theirs in the same outbox.
      const ids = (await db.pool.query<{ id: number }>('select id::int as id from outbox where run_id = $1', [summary.runId])).rows.map((r) => r.id);
      expect(ids).toHaveLength(1);
      await expect(deliverPending(ctx, { only: ids })).rejects.toThrow();
      await restarting;
      const claimed = await db.pool.query<{ locked: boolean }>('select locked_until is not null as locked from outbox where run_id = $1', [summary.runId]);
      expect(claimed.rows).toEqual([{ locked: true }]);
      // A minute later (well inside the lease), the same context's next pass takes the alert again.
      now += 60_000;
      const report = await deliverPending(ctx, { only: ids });
      expect(report.delivered).toBe(1);
      const alert = await db.pool.query<{ delivered: boolean; attempts: number }>(
        'select delivered_at is not null as delivered, attempts from outbox where run_id = $1',
        [summary.runId],
      );
      expect(alert.rows).toEqual([{ delivered: true, attempts: 2 }]);
      // Posted twice: the documented repeat of a message whose ts was not recorded (docs/slack.md).
      expect(slack.messages.length).toBe(2);
    } finally {
      await slack.close();
      await rm(work, { recursive: true, force: true });
    }
  });
});
