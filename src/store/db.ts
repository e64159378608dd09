import { mkdir } from 'node:fs/promises';
import pg from 'pg';
import { lockDataDir } from './data-dir-lock.js';
import { migrate } from './migrate.js';

export type Queryable = Pick<pg.PoolClient, 'query'>;

/** A PostgreSQL connection pool: a real server, or embedded PGlite reached over a local socket. */
export interface Database {
  pool: pg.Pool;
  /** postgres:// URL other processes can use (for embedded: the in-process socket server). */
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** postgres:// URL of a real server. */
  url?: string;
  /** Embedded: data folder for PGlite; absent = in memory. */
  embeddedDir?: string;
  /** Run migrations after connecting (default true). */
  migrate?: boolean;
  poolSize?: number;
  /**
   * Embedded: connections the socket server accepts at once (default 1). PGlite has one session, so
   * more than one is only safe when at most one of them is in a transaction at a time (tests that
   * run the CLI as a child process against the test's database).
   */
  embeddedMaxConnections?: number;
}

/** Opens the database and runs pending migrations. */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  const database = options.url ? openServer(options.url, options.poolSize ?? 5) : await openEmbedded(options.embeddedDir, options.embeddedMaxConnections ?? 1);
  if (options.migrate !== false) {
    try {
      await migrate(database.pool);
    } catch (error) {
      await database.close();
      throw error;
    }
  }
  return database;
}

function openServer(url: string, poolSize: number): Database {
  // TCP keepalive: a server that vanished without closing the connection (a failover, a dropped network
  // path) fails a query in flight after the kernel's probes instead of never; without it the run, and the
  // tenant's claim its heartbeat keeps renewing on another connection, waited forever.
  const pool = new pg.Pool({ connectionString: url, max: poolSize, keepAlive: true, keepAliveInitialDelayMillis: 30_000 });
  // An idle client losing its server must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  // Nor a checked-out one between two statements (a server restart while an ingest parses its next
  // batch killed the service, test/soak.postgres-restart.test.ts): its next query fails instead.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return { pool, url, embedded: false, close: () => pool.end() };
}

async function openEmbedded(dataDir: string | undefined, maxConnections: number): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const cleanup: (() => Promise<unknown>)[] = [];
  const undo = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  };
  try {
    if (dataDir) {
      await mkdir(dataDir, { recursive: true });
      cleanup.push(await lockDataDir(dataDir));
    }
    const pglite = await PGlite.create(dataDir ? { dataDir } : {});
    cleanup.push(() => pglite.close());
    const server = new PGLiteSocketServer({ db: pglite, port: 0, host: '127.0.0.1', maxConnections });
    await server.start();
    cleanup.push(() => server.stop());
    const [host, port] = server.getServerConn().split(':');
    const url = `postgres://postgres@${host}:${port}/postgres`;
    // PGlite serves one connection at a time.
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    pool.on('error', () => undefined);
    cleanup.push(() => pool.end());
    return { pool, url, embedded: true, close: undo };
  } catch (error) {
    await undo();
    throw error;
  }
}

/**
 * Every connection of POOL is checked out: a query now would wait for one to come back (with embedded
 * PGlite's single connection, for the whole run that holds it).
 */
export function allConnectionsInUse(pool: pg.Pool): boolean {
  return pool.idleCount === 0 && pool.totalCount >= (pool.options.max ?? 10);
}

/**
 * Runs FN in a transaction on one client. BEFORE runs on the session first, outside the transaction
 * (session settings that must precede it).
 */
export async function transaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  before?: (client: pg.PoolClient) => Promise<void>,
): Promise<T> {
  const client = await pool.connect();
  try {
    if (before) await before(client);
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
