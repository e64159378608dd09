import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import pg from 'pg';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENV_VARS } from '../src/config/app.js';
import { ensureBuilt, REPO } from './support/cli.js';
import { freshDatabase, postgresServerReachable, type TestDatabase } from './support/db.js';
import { serviceMissing } from './support/services.js';
import { freePort, SAMPLE, startService, type Service } from './runtime.support.js';

const ROWS = 150_000;
const FILE_NAME = '10KC Membership File - Your Organization Name - All Active Personnel - 03.13.2023.csv';

/** A big membership file (unique members), written as a stream. */
async function writeBigFile(file: string, rows: number): Promise<void> {
  const [header, ...members] = readFileSync(SAMPLE, 'utf8').trimEnd().split('\n');
  const out = createWriteStream(file);
  out.write(`${header}\n`);
  for (let i = 0; i < rows; i++) {
    const template = members[i % members.length]!.split(',');
    template[2] = `member${i}@big.example.com`;
    template[3] = `B${i}`;
    if (!out.write(`${template.join(',')}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** The tenant lock an ingest takes first in its transaction (src/store/runs.ts lockTenant). */
interface TenantLock {
  /** Resolves once another session waits for the lock: an ingest of the tenant is in flight. */
  waitedOn(): Promise<void>;
  release(): Promise<void>;
}

async function holdTenantLock(url: string, tenantId: string): Promise<TenantLock> {
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  await holder.query('begin');
  await holder.query("select pg_advisory_xact_lock(72616002, hashtext('tenant:' || $1))", [tenantId]);
  let released = false;
  return {
    async waitedOn() {
      for (let i = 0; i < 1200; i++) {
        const waiting = await holder.query<{ n: number }>("select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted");
        if (waiting.rows[0]!.n > 0) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`no ingest of ${tenantId} waited for its tenant lock within 120 s`);
    },
    async release() {
      if (released) return;
      released = true;
      await holder.query('commit').catch(() => undefined);
      await holder.end();
    },
  };
}

const noServer = !(await postgresServerReachable()) && serviceMissing('postgresql', 'no PostgreSQL server: the service and the test share the database');

/**
 * SIGTERM while a file is in flight: the service stops taking new ticks, lets the file finish (or, past
 * the bound, abandons it with nothing stored), exits 0, and the next start leaves the file processed
 * exactly once. Against the real PostgreSQL server, the development drop, and the built command.
 * The test holds the tenant's lock, so the file is certainly in flight (its ingest waiting for the lock)
 * when the signal arrives.
 */
describe.skipIf(noServer)('graceful shutdown of hris-ingest start', () => {
  let db: TestDatabase | undefined;
  let dir: string | undefined;
  let services: Service[] = [];
  let lock: TenantLock | undefined;

  beforeAll(() => {
    ensureBuilt();
  });
  afterEach(async () => {
    for (const service of services) await service.stop('SIGKILL');
    services = [];
    await lock?.release();
    lock = undefined;
    await db?.dispose();
    db = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function setUp(): Promise<{ env: NodeJS.ProcessEnv; inbox: string; dataDir: string }> {
    db = await freshDatabase();
    dir = await mkdtemp(path.join(tmpdir(), 'hris-shutdown-'));
    await mkdir(path.join(dir, 'config/tenants'), { recursive: true });
    await copyFile(path.join(REPO, 'config/app.yaml'), path.join(dir, 'config/app.yaml'));
    await copyFile(path.join(REPO, 'config/tenants/example.yaml'), path.join(dir, 'config/tenants/example.yaml'));
    const dataDir = path.join(dir, 'data');
    const inbox = path.join(dataDir, 'drop/example/inbox');
    await mkdir(inbox, { recursive: true });
    await writeBigFile(path.join(inbox, FILE_NAME), ROWS);
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    for (const name of Object.keys(ENV_VARS)) delete env[name];
    Object.assign(env, {
      HRIS_CONFIG_DIR: path.join(dir, 'config'),
      HRIS_DATA_DIR: dataDir,
      DATABASE_URL: db.url,
      DROP_PORT: String(await freePort()),
      HTTP_PORT: '0',
      SCHEDULE_CRON: '*/2 * * * * *',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'debug',
    });
    return { env, inbox, dataDir };
  }

  function start(env: NodeJS.ProcessEnv, args: string[] = []): Service {
    const service = startService({ cwd: dir!, env, args: ['--no-sample', ...args] });
    services.push(service);
    return service;
  }

  async function acceptedRuns(): Promise<number> {
    const result = await db!.pool.query<{ n: number }>(`select count(*)::int as n from runs where tenant_id = 'example' and status = 'accepted'`);
    return result.rows[0]!.n;
  }
  async function runCount(): Promise<number> {
    return (await db!.pool.query<{ n: number }>(`select count(*)::int as n from runs`)).rows[0]!.n;
  }
  async function members(): Promise<number> {
    return (await db!.pool.query<{ n: number }>(`select count(*)::int as n from members where tenant_id = 'example'`)).rows[0]!.n;
  }

  it('SIGTERM mid-file: the file finishes, exit 0; a restart does not process it again', { timeout: 240_000 }, async () => {
    const setup = await setUp();
    lock = await holdTenantLock(db!.url, 'example');
    const first = start(setup.env);
    await first.waitFor(({ stderr }) => stderr.includes('"msg":"file taken from the drop"'), 'the file to be taken', 120_000);
    await lock.waitedOn();
    expect(await acceptedRuns()).toBe(0); // mid-run: nothing stored yet
    const stopped = first.stop('SIGTERM');
    const shuttingDown = '"msg":"shutting down: no new ticks; waiting for the file in flight"';
    await first.waitFor(({ stderr }) => stderr.includes(shuttingDown), 'the shutdown to begin');
    // The service waits for the file: it is still running, and the file is not done, until the lock is free.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(first.child.exitCode).toBeNull();
    expect(await acceptedRuns()).toBe(0);
    await lock.release();
    expect(await stopped).toBe(0);
    const stderr = first.stderr();
    expect(stderr.indexOf('"msg":"file processed"')).toBeGreaterThan(stderr.indexOf(shuttingDown));
    expect(stderr).toContain('"msg":"stopped"');
    expect(first.stdout()).toMatch(/03\.13\.2023\.csv -> accepted \(run \d+\)/);
    expect(await acceptedRuns()).toBe(1);
    expect(await members()).toBe(ROWS);
    expect(existsSync(path.join(setup.dataDir, 'drop/example/processed', FILE_NAME))).toBe(true);

    const second = start(setup.env);
    await second.waitFor(({ stderr }) => stderr.includes('"msg":"poll tick finished"'), 'a tick after the restart', 60_000);
    expect(await second.stop('SIGTERM')).toBe(0);
    expect(second.stdout()).not.toContain('->');
    expect(await runCount()).toBe(1);
    expect(await acceptedRuns()).toBe(1);
  });

  it('past the shutdown bound the file in flight is abandoned with nothing stored, exit 0; the restart processes it once', { timeout: 240_000 }, async () => {
    const setup = await setUp();
    lock = await holdTenantLock(db!.url, 'example');
    const first = start(setup.env, ['--shutdown-timeout', '1']);
    await first.waitFor(({ stderr }) => stderr.includes('"msg":"file taken from the drop"'), 'the file to be taken', 120_000);
    await lock.waitedOn(); // the file cannot finish within the bound
    const code = await first.stop('SIGTERM');
    expect(code).toBe(0);
    await lock.release();
    expect(first.stderr()).toContain('shutdown bound reached: abandoning the work in flight');
    expect(first.stdout()).not.toContain('->');
    // No partial state: no run, no member, and the file still in the inbox.
    expect(await runCount()).toBe(0);
    expect(await members()).toBe(0);
    expect(await readdir(setup.inbox)).toContain(FILE_NAME);

    const second = start(setup.env);
    await second.waitFor(({ stdout }) => /03\.13\.2023\.csv -> accepted \(run \d+\)/.test(stdout), 'the file to be processed after the restart', 180_000);
    expect(await second.stop('SIGTERM')).toBe(0);
    expect(await acceptedRuns()).toBe(1);
    expect(await runCount()).toBe(1);
    expect(await members()).toBe(ROWS);
    expect(existsSync(path.join(setup.dataDir, 'drop/example/processed', FILE_NAME))).toBe(true);
  });
});
