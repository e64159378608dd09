/**
 * A drop whose file transfer hangs while its SSH connection stays alive (keepalives answered): the
 * development drop stops answering reads. Every SFTP operation is watched (drop.stallTimeoutMs): the stuck
 * one fails, the connection is dropped, the tick ends, and the next tick takes the file.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appConfigSchema } from '../src/config/app.js';
import { tenantConfigSchema } from '../src/config/tenant.js';
import { connectDrop, DropStalledError, type DropConnection } from '../src/drop/client.js';
import type { DevDrop } from '../src/drop/dev-server.js';
import { pollOnce, type PollerContext } from '../src/drop/poller.js';
import { downloadStable } from '../src/drop/transfer.js';
import { csvOf, range } from './pipeline.support.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { startTestDevDrop } from './support/dev-drop.js';

describe('a drop whose file transfer hangs', () => {
  let work: string;
  let drop: DevDrop;
  let connection: DropConnection;

  beforeEach(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'drop-stall-'));
    ({ drop, connection } = await startTestDevDrop(work, { keepaliveIntervalMs: 200, stallTimeoutMs: 1000 }));
    await mkdir(path.join(work, 'drop', 'acme', 'inbox'), { recursive: true });
  });
  afterEach(async () => {
    await drop?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('a download that gets no bytes fails after the stall timeout, though keepalives are answered, and drops the connection', async () => {
    await writeFile(path.join(work, 'drop', 'big.bin'), Buffer.alloc(4 * 1024 * 1024, 7));
    const session = await connectDrop(connection);
    try {
      const [listed] = (await session.sftp.list('/')).filter((f) => f.name === 'big.bin');
      drop.stallReads(true);
      const started = Date.now();
      const download = downloadStable(session, '/big.bin', { name: 'big.bin', size: listed!.size, mtime: Math.floor(listed!.modifyTime / 1000) } as never, path.join(work, 'big.bin'));
      await expect(download).rejects.toBeInstanceOf(DropStalledError);
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(900);
      expect(waited).toBeLessThan(10_000); // keepalives every 200 ms went on meanwhile
      await expect(session.sftp.list('/')).rejects.toThrow();
    } finally {
      await session.close();
    }
  });

  it('the tick with the stuck download ends; once the drop answers again the next tick takes the file', async () => {
    const db: TestDatabase = await freshDatabase();
    try {
      const ctx: PollerContext = {
        db,
        app: appConfigSchema.parse({ dataDir: work, drop: { stableSeconds: 0 }, schedule: { cron: '0 0 1 1 *' } }),
        tenants: new Map([['acme', tenantConfigSchema.parse({ id: 'acme', name: 'Acme' })]]),
        connection,
      };
      await writeFile(path.join(work, 'drop', 'acme', 'inbox', 'acme - 01.13.2023.csv'), csvOf(range(1, 50)));
      await pollOnce(ctx); // observed once
      drop.stallReads(true);
      const stuck = await pollOnce(ctx);
      expect(stuck.files.map((f) => f.outcome)).not.toContain('accepted');
      expect((await db.pool.query('select count(*)::int as n from runs')).rows[0].n).toBe(0);
      drop.stallReads(false);
      const next = await pollOnce(ctx);
      expect(next.files).toMatchObject([{ outcome: 'accepted' }]);
    } finally {
      await db.dispose();
    }
  });
});
