import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appConfigSchema } from '../src/config/app.js';
import { tenantConfigSchema } from '../src/config/tenant.js';
import type { DevDrop } from '../src/drop/dev-server.js';
import { pollOnce, type PollerContext } from '../src/drop/poller.js';
import { startPollerScheduler } from '../src/drop/scheduler.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { startTestDevDrop } from './support/dev-drop.js';

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('drop reachability alerts and the schedule', () => {
  let db: TestDatabase;
  let work: string;
  let drop: DevDrop;
  let ctx: PollerContext;

  beforeEach(async () => {
    db = await freshDatabase();
    work = await mkdtemp(path.join(os.tmpdir(), 'drop-health-'));
    let connection;
    ({ drop, connection } = await startTestDevDrop(work));
    ctx = {
      db,
      app: appConfigSchema.parse({ dataDir: work, drop: { alertAfterFailures: 3, stableSeconds: 0 }, schedule: { cron: '0 0 1 1 *' } }),
      tenants: new Map([['acme', tenantConfigSchema.parse({ id: 'acme', name: 'Acme' })]]),
      connection,
    };
  });
  afterEach(async () => {
    await drop?.stop();
    await db?.dispose();
    await rm(work, { recursive: true, force: true });
  });

  const alerts = async () =>
    (await db.pool.query<{ kind: string; payload: Record<string, unknown> }>('select kind, payload from outbox order by id')).rows;

  it('reports an unreachable drop once after alertAfterFailures failed ticks, and its recovery once', async () => {
    const down = { ...ctx, connection: { ...ctx.connection!, port: await closedPort() } };
    for (let i = 1; i <= 2; i++) {
      const tick = await pollOnce(down);
      expect(tick.reachable).toBe(false);
      expect(tick.error).toMatch(/not reachable/);
    }
    expect(await alerts()).toEqual([]);
    await pollOnce(down);
    await pollOnce(down);
    const afterOutage = await alerts();
    expect(afterOutage.map((a) => a.kind)).toEqual(['drop_unreachable']);
    expect(afterOutage[0]!.payload).toMatchObject({ failures: 3 });
    expect(JSON.stringify(afterOutage[0]!.payload)).not.toContain('PRIVATE KEY');

    expect((await pollOnce(ctx)).reachable).toBe(true);
    await pollOnce(ctx);
    expect((await alerts()).map((a) => a.kind)).toEqual(['drop_unreachable', 'drop_recovered']);
    const health = await db.pool.query('select consecutive_failures, alerted_at from drop_health');
    expect(health.rows).toEqual([{ consecutive_failures: 0, alerted_at: null }]);
  });

  it('a short outage below the threshold raises no alert at all', async () => {
    const down = { ...ctx, connection: { ...ctx.connection!, port: await closedPort() } };
    await pollOnce(down);
    await pollOnce(down);
    await pollOnce(ctx);
    await pollOnce(down);
    await pollOnce(down);
    expect(await alerts()).toEqual([]);
  });

  it('creates a missing tenant inbox on the drop (not in read-only mode)', async () => {
    expect((await pollOnce(ctx)).reachable).toBe(true);
    const session = await (await import('../src/drop/client.js')).connectDrop(ctx.connection!);
    try {
      expect(await session.sftp.exists('/acme/inbox')).toBe('d');
    } finally {
      await session.close();
    }
  });

  it('never overlaps its own ticks', async () => {
    const scheduler = startPollerScheduler(ctx);
    try {
      const [first, second] = await Promise.all([scheduler.tickNow(), scheduler.tickNow()]);
      expect(first?.reachable).toBe(true);
      expect(second).toBeNull();
      expect(scheduler.status()).toMatchObject({ running: false, skippedTicks: 1 });
      expect(scheduler.status().lastResult?.reachable).toBe(true);
      // Once the tick finished, the next one runs.
      expect((await scheduler.tickNow())?.reachable).toBe(true);
    } finally {
      await scheduler.stop();
    }
  });

  it('schedules on the configured cron expression in the configured time zone, and refuses bad ones', async () => {
    const nine = startPollerScheduler({ ...ctx, app: { ...ctx.app, schedule: { ...ctx.app.schedule, cron: '0 9 * * *', timezone: 'America/New_York' } } });
    try {
      const next = nine.nextRun()!;
      const newYorkHour = Number(new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hour: 'numeric', hourCycle: 'h23' }).format(next));
      expect(newYorkHour).toBe(9);
      expect(next.getUTCMinutes()).toBe(0);
    } finally {
      await nine.stop();
    }
    expect(() => startPollerScheduler({ ...ctx, app: { ...ctx.app, schedule: { ...ctx.app.schedule, cron: '61 * * * *' } } })).toThrow(/not a valid cron expression/);
    // the time zone is the app config's to refuse (poll --once and the late-file watch use it too)
    expect(() => appConfigSchema.parse({ schedule: { timezone: 'Mars/Olympus' } })).toThrow(/Mars\/Olympus.{0,2} is not a time zone/);
  });
});
