import { appendFileSync, existsSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appConfigSchema } from '../src/config/app.js';
import { tenantConfigSchema, type TenantConfig } from '../src/config/tenant.js';
import { connectDrop, type DropConnection } from '../src/drop/client.js';
import { downloadStable, readSize } from '../src/drop/transfer.js';
import { pollOnce, settleHeldFile, type PollerContext, type PollEvent } from '../src/drop/poller.js';
import { approveRun, rejectRun } from '../src/pipeline.js';
import { openDatabase } from '../src/store/db.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { sftpBatch, type SftpTarget } from './support/sftp-cli.js';

/** A drop the poller suite runs against: OpenSSH sshd, or the development drop server. */
export interface DropUnderTest {
  /** How the poller connects (pinned host key). */
  connection: DropConnection;
  /** How the customer's ETL job uploads with the OpenSSH sftp client; sees the same "/" as the poller. */
  uploader: SftpTarget;
  /** Local folder that is "/" on the drop. */
  root: string;
  hostKeySha256: string;
  /** The size of the poller's download reads this server should get (src/drop/transfer.ts readSize). */
  readSize: number;
  /** Drops every connection at once, synchronously (blocks the event loop while it does). */
  killConnectionsSync(): number;
  stop(): Promise<void>;
}

const HEADER = 'first_name,last_name,email,employee_id,status';

/** A membership file with members FROM..TO (all active). */
export function membersCsv(from: number, to: number): string {
  const lines = [HEADER];
  for (let n = from; n <= to; n++) lines.push(`First${n},Last${n},m${n}@example.com,E${n},active`);
  return `${lines.join('\n')}\n`;
}

export function tenant(id: string, extra: Record<string, unknown> = {}): TenantConfig {
  return tenantConfigSchema.parse({ id, name: id.toUpperCase(), ...extra });
}

interface RunRow {
  id: number;
  tenant_id: string;
  file_name: string;
  status: string;
  source: string;
  rows: number;
}

export function dropSuite(label: string, skip: boolean, start: () => Promise<DropUnderTest>): void {
  describe.skipIf(skip)(`drop poller against ${label}`, () => {
    let drop: DropUnderTest;
    let db: TestDatabase;
    let work: string;
    let clock: Date;

    beforeAll(async () => {
      drop = await start();
    });
    afterAll(async () => {
      await drop?.stop();
    });
    beforeEach(async () => {
      db = await freshDatabase();
      work = await mkdtemp(path.join(os.tmpdir(), 'drop-test-'));
      clock = new Date('2026-01-01T00:00:00Z');
      for (const entry of await readdir(drop.root)) await rm(path.join(drop.root, entry), { recursive: true, force: true });
    });
    afterEach(async () => {
      await db?.dispose();
      await rm(work, { recursive: true, force: true });
    });

    const advance = (seconds = 61) => {
      clock = new Date(clock.getTime() + seconds * 1000);
    };

    function poller(
      options: { drop?: Record<string, unknown>; tenants?: TenantConfig[]; connection?: Partial<DropConnection>; db?: PollerContext['db'] } & Omit<
        Partial<PollerContext>,
        'tenants' | 'connection' | 'db'
      > = {},
    ): PollerContext {
      const { drop: dropOverrides, tenants, connection, db: database, ...rest } = options;
      return {
        db: database ?? db,
        app: appConfigSchema.parse({ dataDir: work, drop: { stableSeconds: 60, ...dropOverrides }, schedule: { maxParallelTenants: 2 } }),
        tenants: new Map((tenants ?? [tenant('acme')]).map((t) => [t.id, t])),
        connection: { ...drop.connection, ...connection },
        outDir: path.join(work, 'out'),
        clock: () => clock,
        ...rest,
      };
    }

    /** Uploads with the OpenSSH sftp client, as a customer's ETL job: `put` into the remote path. */
    async function upload(files: Record<string, string>, extra: string[] = []): Promise<void> {
      const commands: string[] = [];
      const dirs = new Set<string>();
      let i = 0;
      for (const [remote, content] of Object.entries(files)) {
        const local = path.join(work, `upload-${i++}.csv`);
        await writeFile(local, content);
        const parts = path.posix.dirname(remote).split('/').filter(Boolean);
        for (let d = 1; d <= parts.length; d++) dirs.add(`/${parts.slice(0, d).join('/')}`);
        commands.push(`put "${local}" "${remote}"`);
      }
      await sftpBatch(drop.uploader, [...[...dirs].sort().map((d) => `-mkdir "${d}"`), ...commands, ...extra]);
    }

    const runs = async (database = db) =>
      (await database.pool.query<RunRow>('select id::int as id, tenant_id, file_name, status, source, rows from runs order by id')).rows;
    const local = (remote: string) => path.join(drop.root, remote);
    const listRemote = async (remoteDir: string) => (existsSync(local(remoteDir)) ? (await readdir(local(remoteDir))).sort() : []);


    it('downloads in reads of the size the server allows, byte for byte, and checks the file is still as listed', async () => {
      // Random bytes, not a CSV: any reordered, doubled or lost piece changes the hash.
      const bytes = randomBytes(3 * 1024 * 1024 + 12_345);
      await mkdir(path.join(drop.root, 'acme'), { recursive: true });
      await writeFile(path.join(drop.root, 'acme', 'big.csv'), bytes);
      const session = await connectDrop(drop.connection);
      try {
        expect(readSize(session)).toBe(drop.readSize);
        const listed = (await session.sftp.list('/acme')).find((f) => f.name === 'big.csv')!;
        const local = path.join(work, 'big.csv');
        const transfer = await downloadStable(session, '/acme/big.csv', { name: 'big.csv', size: listed.size, mtime: Math.floor(listed.modifyTime / 1000) }, local);
        expect(transfer).toEqual({ ok: true, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
        expect((await readFile(local)).equals(bytes)).toBe(true);
      } finally {
        await session.close();
      }
    });
    it('processes a normal upload once, within one tick after it is stable, and moves it to processed/', async () => {
      const name = 'All Active Personnel - 01.13.2023.csv';
      await upload({ [`/acme/inbox/${name}`]: membersCsv(1, 30) });
      const ctx = poller();

      const first = await pollOnce(ctx);
      expect(first.reachable).toBe(true);
      expect(first.files).toEqual([{ tenant: 'acme', file: name, outcome: 'waiting' }]);
      expect(await runs()).toHaveLength(0);

      advance();
      const second = await pollOnce(ctx);
      expect(second.files).toMatchObject([{ tenant: 'acme', file: name, outcome: 'accepted', movedTo: `/acme/processed/${name}` }]);
      const stored = await runs();
      expect(stored).toMatchObject([{ tenant_id: 'acme', file_name: name, status: 'accepted', source: 'drop', rows: 30 }]);
      expect(await listRemote('/acme/inbox')).toEqual([]);
      expect(await listRemote('/acme/processed')).toEqual([name]);
      expect(await readFile(local(`/acme/processed/${name}`), 'utf8')).toBe(membersCsv(1, 30));
      // The run's three files and its alert.
      const files = await db.pool.query<{ kind: string }>('select kind from run_files where run_id = $1 order by kind', [stored[0]!.id]);
      expect(files.rows.map((r) => r.kind)).toEqual(['deletions', 'invites', 'updates']);
      const alerts = await db.pool.query<{ kind: string }>("select kind from outbox where run_id = $1", [stored[0]!.id]);
      expect(alerts.rows).toEqual([{ kind: 'run' }]);
      const registry = await db.pool.query('select state, outcome, moved_to, sha256 from drop_files');
      expect(registry.rows).toMatchObject([{ state: 'done', outcome: 'accepted', moved_to: `/acme/processed/${name}` }]);
      expect(registry.rows[0].sha256).toMatch(/^[0-9a-f]{64}$/);

      advance();
      const third = await pollOnce(ctx);
      expect(third.files).toEqual([]);
      expect(await runs()).toHaveLength(1);
    });

    it('an accepted run whose output files cannot be written is still accepted: moved to processed/, not failed or retried', async () => {
      const name = 'All Active Personnel - 01.13.2023.csv';
      await upload({ [`/acme/inbox/${name}`]: membersCsv(1, 5) });
      const blocked = path.join(work, 'not-a-folder');
      await writeFile(blocked, 'a file where the outputs folder should be');
      const ctx = poller({ outDir: blocked });
      await pollOnce(ctx);
      advance();
      const taken = await pollOnce(ctx);
      expect(taken.files).toMatchObject([{ tenant: 'acme', file: name, outcome: 'accepted', movedTo: `/acme/processed/${name}` }]);
      const registry = await db.pool.query('select state, outcome, attempts, last_error from drop_files');
      expect(registry.rows).toMatchObject([{ state: 'done', outcome: 'accepted', attempts: 0, last_error: null }]);
      expect((await db.pool.query("select count(*)::int as n from outbox where kind = 'run'")).rows[0].n).toBe(1);
    });

    it('does not read an upload still in progress: a growing file waits until its size holds still', async () => {
      const name = 'people - 2023-02-01.csv';
      const full = membersCsv(1, 2000);
      const half = full.slice(0, Math.floor(full.length / 2));
      await upload({ [`/acme/inbox/${name}`]: half });
      const ctx = poller();

      expect((await pollOnce(ctx)).files).toMatchObject([{ outcome: 'waiting' }]);
      // Seen twice, but not stableSeconds apart: still waiting.
      expect((await pollOnce(ctx)).files).toMatchObject([{ outcome: 'waiting' }]);

      // The ETL job resumes the upload (sftp reput appends the rest): the size changes.
      const fullLocal = path.join(work, 'full.csv');
      await writeFile(fullLocal, full);
      await sftpBatch(drop.uploader, [`reput "${fullLocal}" "/acme/inbox/${name}"`]);
      advance();
      expect((await pollOnce(ctx)).files).toMatchObject([{ outcome: 'waiting' }]);
      expect(await runs()).toHaveLength(0);

      advance();
      expect((await pollOnce(ctx)).files).toMatchObject([{ outcome: 'accepted' }]);
      expect(await runs()).toMatchObject([{ file_name: name, status: 'accepted', rows: 2000 }]);
    });

    it('ignores .part uploads and dotfiles; the file is taken after the rename, once stable', async () => {
      const name = 'people - 2023-03-01.csv';
      await upload({ [`/acme/inbox/${name}.part`]: membersCsv(1, 10), '/acme/inbox/.hidden.csv': membersCsv(1, 3), '/acme/inbox/notes.txt': 'x' });
      const ctx = poller();
      expect((await pollOnce(ctx)).files).toEqual([]);
      advance();
      expect((await pollOnce(ctx)).files).toEqual([]);

      await sftpBatch(drop.uploader, [`rename "/acme/inbox/${name}.part" "/acme/inbox/${name}"`]);
      expect((await pollOnce(ctx)).files).toMatchObject([{ file: name, outcome: 'waiting' }]);
      advance();
      expect((await pollOnce(ctx)).files).toMatchObject([{ file: name, outcome: 'accepted' }]);
      expect(await runs()).toMatchObject([{ file_name: name, rows: 10 }]);
      expect(await listRemote('/acme/inbox')).toEqual(['.hidden.csv', 'notes.txt']);
    });

    it('refuses a host key other than the pinned one and reports the fingerprint it saw', async () => {
      await upload({ '/acme/inbox/a - 2023-01-01.csv': membersCsv(1, 5) });
      const pinned = `SHA256:${'B'.repeat(43)}`;
      const result = await pollOnce(poller({ connection: { hostKeySha256: pinned } }));
      expect(result.reachable).toBe(false);
      expect(result.error).toContain(drop.hostKeySha256);
      expect(result.error).toContain(pinned);
      expect(await runs()).toHaveLength(0);
      const health = await db.pool.query('select consecutive_failures from drop_health');
      expect(health.rows).toEqual([{ consecutive_failures: 1 }]);
    });

    it('a connection killed in the middle of a download leaves no run; the next tick processes the file', async () => {
      const name = 'big - 2023-04-01.csv';
      const content = membersCsv(1, 60_000);
      await upload({ [`/acme/inbox/${name}`]: content });
      let killed = 0;
      const onEvent = (event: PollEvent) => {
        if (event.type !== 'transfer-progress') return;
        if (killed === 0 && event.transferred < event.total) killed = drop.killConnectionsSync();
      };
      // One read in flight at a time, so the kill lands before the file is complete.
      const ctx = poller({ onEvent, fastGet: { concurrency: 1, chunkSize: 32 * 1024 } });
      await pollOnce(ctx);
      advance();
      const broken = await pollOnce(ctx);
      expect(killed).toBeGreaterThan(0);
      expect(broken.files).toMatchObject([{ file: name, outcome: 'failed' }]);
      expect(await runs()).toHaveLength(0);
      expect(await listRemote('/acme/inbox')).toEqual([name]);
      const registry = await db.pool.query('select state, attempts, last_error from drop_files');
      expect(registry.rows).toMatchObject([{ state: 'pending', attempts: 1 }]);

      const next = await pollOnce(poller());
      expect(next.files).toMatchObject([{ file: name, outcome: 'accepted' }]);
      expect(await runs()).toMatchObject([{ file_name: name, status: 'accepted', rows: 60_000 }]);
      expect(await listRemote('/acme/processed')).toEqual([name]);
    });

    it('a run waiting with its transaction open for a slow download outlives the server\'s idle-in-transaction timeout', async (context) => {
      if (db.embedded) {
        console.warn('SKIP (embedded PGlite): no idle-in-transaction timeout to outlive');
        context.skip();
      }
      // The run starts while the file downloads; here the download stalls for 2.5 s at its end, longer than
      // the 1 s this database gives an idle transaction.
      const name = (await db.pool.query<{ name: string }>('select current_database() as name')).rows[0]!.name;
      await db.pool.query(`alter database "${name}" set idle_in_transaction_session_timeout = '1s'`);
      const strict = await openDatabase({ url: db.url });
      try {
        const file = 'slow - 2023-09-01.csv';
        await upload({ [`/acme/inbox/${file}`]: membersCsv(1, 20_000) });
        let stalled = false;
        const onEvent = (event: PollEvent) => {
          if (event.type === 'transfer-progress' && event.transferred === event.total && !stalled) {
            stalled = true;
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2500);
          }
        };
        await pollOnce(poller({ db: strict }));
        advance();
        const tick = await pollOnce(poller({ db: strict, onEvent, fastGet: { concurrency: 1, chunkSize: 16 * 1024 } }));
        expect(stalled).toBe(true);
        expect(tick.files).toMatchObject([{ file, outcome: 'accepted' }]);
        expect(await runs()).toMatchObject([{ file_name: file, status: 'accepted', rows: 20_000 }]);
      } finally {
        await strict.close();
      }
    });

    it('a file that grows during the download is not ingested, and holds back the later files until it is stable again', async () => {
      const first = 'grow - 2023-09-01.csv';
      const later = 'grow - 2023-09-02.csv';
      await upload({ [`/acme/inbox/${first}`]: membersCsv(1, 5000), [`/acme/inbox/${later}`]: membersCsv(1, 5001) });
      let appended = false;
      const onEvent = (event: PollEvent) => {
        if (event.type === 'transfer-progress' && event.file === first && !appended) {
          appended = true;
          appendFileSync(local(`/acme/inbox/${first}`), 'Late,Row,late@example.com,E99999,active\n');
        }
      };
      const ctx = poller({ onEvent, fastGet: { concurrency: 1, chunkSize: 32 * 1024 } });
      await pollOnce(ctx);
      advance();
      const tick = await pollOnce(ctx);
      expect(appended).toBe(true);
      expect(tick.files).toMatchObject([{ file: first, outcome: 'changed' }]);
      expect(await runs()).toHaveLength(0);

      // Observed afresh: waiting (and the later file with it), then taken whole and in order.
      advance();
      expect((await pollOnce(poller())).files).toMatchObject([{ file: first, outcome: 'waiting' }]);
      advance();
      const done = await pollOnce(poller());
      expect(done.files.map((f) => [f.file, f.outcome])).toEqual([
        [first, 'accepted'],
        [later, 'accepted'],
      ]);
      expect((await runs()).map((r) => [r.file_name, r.rows])).toEqual([
        [first, 5001],
        [later, 5001],
      ]);
    });

    it('moves a rejected file to rejected/ with <name>.errors.csv beside it', async () => {
      const name = 'bad - 01.20.2023.csv';
      const content = `${HEADER}\nAnn,Lee,ann@example.com,E1,active\nBob,Ray,not-an-email,E2,active\n`;
      await upload({ [`/acme/inbox/${name}`]: content });
      const ctx = poller();
      await pollOnce(ctx);
      advance();
      const result = await pollOnce(ctx);
      expect(result.files).toMatchObject([{ outcome: 'rejected', movedTo: `/acme/rejected/${name}` }]);
      expect(await listRemote('/acme/rejected')).toEqual([name, `${name}.errors.csv`]);
      const errors = await readFile(local(`/acme/rejected/${name}.errors.csv`), 'utf8');
      expect(errors.split('\n')[0]).toBe('line,column,value,message');
      expect(errors).toMatch(/^3,email,not-an-email,/m);
      // then why the file was rejected, after the row errors
      expect(errors.trimEnd().split('\n').at(-1)).toMatch(/^,,,"1 invalid row\(s\), 1 error\(s\): the file is rejected as a whole/);
      expect(await runs()).toMatchObject([{ status: 'rejected' }]);
      // the run's recorded errors file is still there (the drop's copy was made in the poll's work folder, since removed)
      const recorded = await db.pool.query<{ file_name: string }>(`select file_name from run_files where kind = 'errors'`);
      expect(recorded.rows).toHaveLength(1);
      expect(existsSync(recorded.rows[0]!.file_name)).toBe(true);
    });

    it('rejects a file over the size limit with the reason, without reading it', async () => {
      const name = 'huge - 2023-01-01.csv';
      await upload({ [`/acme/inbox/${name}`]: membersCsv(1, 50) });
      const ctx = poller({ drop: { maxFileBytes: 100 } });
      await pollOnce(ctx);
      advance();
      expect((await pollOnce(ctx)).files).toMatchObject([{ outcome: 'too_large', movedTo: `/acme/rejected/${name}` }]);
      expect(await runs()).toHaveLength(0);
      const errors = await readFile(local(`/acme/rejected/${name}.errors.csv`), 'utf8');
      expect(errors).toContain('the limit is 100 bytes');
      const registry = await db.pool.query('select state, outcome, reason from drop_files');
      expect(registry.rows).toMatchObject([{ state: 'done', outcome: 'too_large' }]);
      // no run, so an alert of its own (once, not again on later ticks)
      await pollOnce(ctx);
      const alerts = await db.pool.query('select kind, tenant_id, run_id, payload from outbox');
      expect(alerts.rows).toEqual([
        { kind: 'file_too_large', tenant_id: 'acme', run_id: null, payload: { file: name, bytes: Buffer.byteLength(membersCsv(1, 50)), limit: 100, moved: true } },
      ]);
    });

    it('takes files oldest first by the date in the name (MM.DD.YYYY and ISO), not by upload time', async () => {
      // Uploaded newest first; each file is a superset of the one before, so none is held.
      await upload({ '/acme/inbox/export - 01.20.2023.csv': membersCsv(1, 30) });
      await upload({ '/acme/inbox/export 2023-01-06.csv': membersCsv(1, 10) });
      await upload({ '/acme/inbox/export - 01.13.2023.csv': membersCsv(1, 20) });
      const ctx = poller();
      await pollOnce(ctx);
      advance();
      const result = await pollOnce(ctx);
      expect(result.files.map((f) => [f.file, f.outcome])).toEqual([
        ['export 2023-01-06.csv', 'accepted'],
        ['export - 01.13.2023.csv', 'accepted'],
        ['export - 01.20.2023.csv', 'accepted'],
      ]);
      expect((await runs()).map((r) => r.file_name)).toEqual(['export 2023-01-06.csv', 'export - 01.13.2023.csv', 'export - 01.20.2023.csv']);
      const invites = await db.pool.query<{ n: number }>("select count(*)::int as n from members where tenant_id = 'acme'");
      expect(invites.rows[0]!.n).toBe(30);
    });

    it('two pollers with separate pools racing over 20 files process each exactly once, one file per tenant at a time', async (test) => {
      // Embedded PGlite (no local server, CI unset) serves one connection: replicas need a real PostgreSQL.
      if (db.embedded) test.skip('two replicas need a PostgreSQL server; PGlite serves one connection');
      const tenants = ['t1', 't2', 't3', 't4'].map((id) => tenant(id));
      const files: Record<string, string> = {};
      for (const t of tenants) for (let k = 1; k <= 5; k++) files[`/${t.id}/inbox/${t.id} - 01.0${k}.2023.csv`] = membersCsv(1, 10 * k);
      await upload(files);
      const secondPool = await openDatabase({ url: db.url, migrate: false });
      try {
        const active = new Map<string, number>();
        let overlaps = 0;
        const onEvent = (event: PollEvent) => {
          if (event.type === 'file-start') {
            if ((active.get(event.tenant) ?? 0) > 0) overlaps++;
            active.set(event.tenant, (active.get(event.tenant) ?? 0) + 1);
          } else if (event.type === 'file-end') {
            active.set(event.tenant, active.get(event.tenant)! - 1);
          }
        };
        const a = poller({ tenants, pollerId: 'poller-a', onEvent });
        const b = poller({ tenants, pollerId: 'poller-b', onEvent, db: secondPool });
        await Promise.all([pollOnce(a), pollOnce(b)]);
        advance();
        const outcomes: string[] = [];
        for (let round = 0; round < 6 && outcomes.length < 20; round++) {
          const ticks = await Promise.all([pollOnce(a), pollOnce(b)]);
          for (const tick of ticks) for (const f of tick.files) if (f.outcome === 'accepted') outcomes.push(`${f.tenant}/${f.file}`);
        }
        expect(outcomes).toHaveLength(20);
        expect(new Set(outcomes).size).toBe(20);
        expect(overlaps).toBe(0);
        const stored = await runs();
        expect(stored).toHaveLength(20);
        expect(new Set(stored.map((r) => `${r.tenant_id}/${r.file_name}`)).size).toBe(20);
        expect(stored.every((r) => r.status === 'accepted')).toBe(true);
        for (const t of tenants) {
          const own = stored.filter((r) => r.tenant_id === t.id).map((r) => r.file_name);
          expect(own).toEqual([1, 2, 3, 4, 5].map((k) => `${t.id} - 01.0${k}.2023.csv`));
          expect(await listRemote(`/${t.id}/inbox`)).toEqual([]);
          expect(await listRemote(`/${t.id}/processed`)).toHaveLength(5);
        }
        const registry = await db.pool.query<{ n: number }>("select count(*)::int as n from drop_files where state = 'done'");
        expect(registry.rows[0]!.n).toBe(20);
      } finally {
        await secondPool.close();
      }
    });

    it('leaves a tenant claimed by a live poller alone and takes over a crashed poller\'s expired claim', async () => {
      const name = 'claimed - 2023-05-01.csv';
      await upload({ [`/acme/inbox/${name}`]: membersCsv(1, 5) });
      await db.pool.query("insert into drop_tenant_claims values ('acme', 'crashed-poller', now() + interval '10 minutes')");
      const ctx = poller();
      const blocked = await pollOnce(ctx);
      expect(blocked.skippedTenants).toEqual(['acme']);
      expect(blocked.files).toEqual([]);

      await db.pool.query("update drop_tenant_claims set expires_at = now() - interval '1 second'");
      await pollOnce(ctx);
      advance();
      expect((await pollOnce(ctx)).files).toMatchObject([{ file: name, outcome: 'accepted' }]);
      expect(await runs()).toHaveLength(1);
      expect((await db.pool.query('select * from drop_tenant_claims')).rows).toEqual([]);
    });

    it('read-only mode never moves or writes on the drop; the registry alone remembers the file', async () => {
      const name = 'ro - 2023-06-01.csv';
      await upload({ [`/acme/inbox/${name}`]: membersCsv(1, 5), '/acme/inbox/bad - 2023-06-02.csv': `${HEADER}\nA,B,nope,E9,active\n` });
      const ctx = poller({ drop: { readOnly: true } });
      await pollOnce(ctx);
      advance();
      const result = await pollOnce(ctx);
      expect(result.files.map((f) => [f.file, f.outcome, f.movedTo])).toEqual([
        [name, 'accepted', null],
        ['bad - 2023-06-02.csv', 'rejected', null],
      ]);
      expect(await listRemote('/acme')).toEqual(['inbox']);
      expect(await listRemote('/acme/inbox')).toEqual(['bad - 2023-06-02.csv', name]);
      advance();
      expect((await pollOnce(ctx)).files).toEqual([]);
      expect(await runs()).toHaveLength(2);
    });

    it('a held file stays in the inbox and moves when its run is approved or rejected', async () => {
      const empty = 'empty - 2023-07-01.csv';
      await upload({ [`/acme/inbox/${empty}`]: `${HEADER}\n` });
      const ctx = poller();
      await pollOnce(ctx);
      advance();
      const held = await pollOnce(ctx);
      expect(held.files).toMatchObject([{ file: empty, outcome: 'held' }]);
      const runId = held.files[0]!.runId!;
      advance();
      expect((await pollOnce(ctx)).files).toEqual([]);
      expect(await listRemote('/acme/inbox')).toEqual([empty]);

      await approveRun({ db }, ctx.tenants, runId, 'ops');
      expect(await settleHeldFile(ctx, runId)).toBe(true);
      expect(await listRemote('/acme/inbox')).toEqual([]);
      expect(await listRemote('/acme/processed')).toEqual([empty]);

      // Rejected by an operator: moved on the next tick, with the reason in the errors file.
      const second = 'empty again - 2023-07-02.csv';
      await upload({ [`/acme/inbox/${second}`]: `${HEADER}\n\n` });
      await pollOnce(ctx);
      advance();
      const heldAgain = await pollOnce(ctx);
      expect(heldAgain.files).toMatchObject([{ file: second, outcome: 'held' }]);
      await rejectRun({ db }, heldAgain.files[0]!.runId!, 'ops', 'not the real export');
      const settled = await pollOnce(ctx);
      expect(settled.files).toMatchObject([{ file: second, outcome: 'settled', movedTo: `/acme/rejected/${second}` }]);
      expect(await listRemote('/acme/inbox')).toEqual([]);
      expect(await readFile(local(`/acme/rejected/${second}.errors.csv`), 'utf8')).toContain('not the real export');
    });

    it('a held file overwritten by the customer\'s fix: deciding the held run leaves the fix in the inbox, and the fix gets its own run', async () => {
      const name = 'members - 03.01.2023.csv';
      await upload({ '/acme/inbox/members - 02.01.2023.csv': membersCsv(1, 100) });
      const ctx = poller();
      await pollOnce(ctx);
      advance();
      expect((await pollOnce(ctx)).files.map((f) => f.outcome)).toEqual(['accepted']);
      await upload({ [`/acme/inbox/${name}`]: membersCsv(1, 50) });
      await pollOnce(ctx);
      advance();
      const held = await pollOnce(ctx);
      expect(held.files).toMatchObject([{ file: name, outcome: 'held' }]);

      const fixed = membersCsv(1, 101);
      await upload({ [`/acme/inbox/${name}`]: fixed });
      await rejectRun({ db }, held.files[0]!.runId!, 'ops', 'partial export');
      const settled = await pollOnce(ctx); // settles the rejected run: its file is gone, the fix is not it
      expect(settled.files.filter((f) => f.outcome === 'settled')).toMatchObject([{ file: name, movedTo: null }]);
      expect(await listRemote('/acme/inbox')).toEqual([name]);
      expect(await listRemote('/acme/rejected')).toEqual([]);
      advance();
      const taken = await pollOnce(ctx);
      expect(taken.files).toMatchObject([{ file: name, outcome: 'accepted', rows: 101 }]);
      expect(await readFile(local(`/acme/processed/${name}`), 'utf8')).toBe(fixed);
      expect((await runs()).map((r) => r.status)).toEqual(['accepted', 'rejected', 'accepted']);
    });

    it('a re-upload of content already accepted is recorded as a duplicate and moved to processed/ (a name clash gets a timestamp)', async () => {
      const name = 'same - 2023-08-01.csv';
      await upload({ [`/acme/inbox/${name}`]: membersCsv(1, 8) });
      const ctx = poller();
      await pollOnce(ctx);
      advance();
      await pollOnce(ctx);
      await upload({ [`/acme/inbox/${name}`]: membersCsv(1, 8) });
      await pollOnce(ctx);
      advance();
      const again = await pollOnce(ctx);
      expect(again.files).toMatchObject([{ file: name, outcome: 'duplicate' }]);
      const processed = await listRemote('/acme/processed');
      expect(processed).toHaveLength(2);
      expect(processed).toContain(name);
      expect(processed.find((n) => n !== name)).toMatch(/^same - 2023-08-01 \d{8}T\d{6}\.csv$/);
      expect((await runs()).map((r) => r.status)).toEqual(['accepted', 'duplicate']);
    });

    it('a stale file (February after March) is held and changes nothing; once superseded by a later accepted file it goes to rejected/', async () => {
      // issue 10 defect 5: January 1-40; March: 5 deactivated, 6 gone, 41 joined; February: the January people.
      const people = (rows: Array<[number, string]>) => `${[HEADER, ...rows.map(([n, status]) => `First${n},Last${n},m${n}@example.com,E${n},${status}`)].join('\n')}\n`;
      const january = Array.from({ length: 40 }, (_, i): [number, string] => [i + 1, 'active']);
      const march = [...january.filter(([n]) => n !== 6).map(([n]): [number, string] => [n, n === 5 ? 'inactive' : 'active']), [41, 'active'] as [number, string]];
      await upload({ '/acme/inbox/export - 01.15.2023.csv': people(january), '/acme/inbox/export - 03.01.2023.csv': people(march) });
      const ctx = poller();
      await pollOnce(ctx);
      advance();
      expect((await pollOnce(ctx)).files.map((f) => f.outcome)).toEqual(['accepted', 'accepted']);
      const state = async () => (await db.pool.query("select member_key, on_platform, updated_run_id::int from members where tenant_id = 'acme' order by member_key")).rows;
      const afterMarch = await state();

      await upload({ '/acme/inbox/export - 02.01.2023.csv': people(january), '/initech/inbox/members - 02.01.2023.csv': people(january) });
      const seen = await pollOnce(ctx);
      // a folder with files and no tenant config is reported (once), not silently skipped
      expect(seen.unconfiguredFolders).toEqual([{ folder: '/initech', files: 1 }]);
      // with a tenant file for it that is refused, the folder is not "without config": the file is reported
      expect((await pollOnce({ ...ctx, refusedTenants: () => ['initech'] })).unconfiguredFolders).toEqual([]);
      advance();
      const february = await pollOnce(ctx);
      expect(february.files).toMatchObject([{ file: 'export - 02.01.2023.csv', outcome: 'held', counts: { invites: 1, reactivations: 1, deletions: 1 } }]);
      expect(await state()).toEqual(afterMarch);
      const held = await db.pool.query<{ reasons: string[] }>('select reasons from runs where id = $1', [february.files[0]!.runId]);
      expect(held.rows[0]!.reasons[0]).toMatch(/^the file is dated 2023-02-01, before the tenant's last accepted file \(run \d+, dated 2023-03-01\)/);
      expect(await listRemote('/acme/inbox')).toEqual(['export - 02.01.2023.csv']);
      expect(
        (await db.pool.query("select payload->>'problem' as problem from outbox where kind = 'config_problem'")).rows,
      ).toEqual([{ problem: 'unknown_drop_folder' }]);

      await upload({ '/acme/inbox/export - 04.01.2023.csv': people([...march, [42, 'active']]) });
      await pollOnce(ctx);
      advance();
      const april = await pollOnce(ctx);
      expect(april.files).toMatchObject([{ file: 'export - 04.01.2023.csv', outcome: 'accepted' }]);
      const superseded = await db.pool.query('select superseded_by::int from runs where id = $1', [february.files[0]!.runId]);
      expect(superseded.rows[0]!.superseded_by).toBe(april.files[0]!.runId);
      const settled = await pollOnce(ctx);
      expect(settled.files).toMatchObject([{ file: 'export - 02.01.2023.csv', outcome: 'settled', movedTo: '/acme/rejected/export - 02.01.2023.csv' }]);
      expect(await listRemote('/acme/inbox')).toEqual([]);
      // its errors file says why it was not applied before why it was held
      const why = (await readFile(local('/acme/rejected/export - 02.01.2023.csv.errors.csv'), 'utf8')).trimEnd().split('\n');
      expect(why[1]).toBe(`,,,"not applied: run ${february.files[0]!.runId} was held, then superseded by run ${april.files[0]!.runId} (a later file was accepted); upload this file again if it is still wanted"`);
      expect(why[2]).toMatch(/^,,,"held: the file is dated 2023-02-01, before the tenant's last accepted file/);
    });
  });
}
