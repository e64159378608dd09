import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/store/db.js';

/** The local PostgreSQL server tests use; TEST_DATABASE_URL overrides. */
export const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let serverReachable: boolean | undefined;

export async function postgresServerReachable(): Promise<boolean> {
  if (serverReachable !== undefined) return serverReachable;
  const client = new pg.Client({ connectionString: SERVER_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    serverReachable = true;
  } catch {
    serverReachable = false;
  } finally {
    await client.end().catch(() => undefined);
  }
  if (!serverReachable) {
    if (process.env.CI === 'true') {
      throw new Error(`PostgreSQL server not reachable at ${SERVER_URL} (CI=true: .ci/run must start it)`);
    }
    console.warn(`NOTE: PostgreSQL server not reachable at ${SERVER_URL}; database tests use embedded PGlite`);
  }
  return serverReachable;
}

export interface TestDatabase extends Database {
  /** Drops the fresh database (real server) or closes the embedded one. */
  dispose(): Promise<void>;
}

/**
 * A fresh, migrated database for one test: a new database on the local PostgreSQL server,
 * or, when no server is reachable (and CI is not set), a fresh in-memory PGlite.
 */
export async function freshDatabase(): Promise<TestDatabase> {
  if (!(await postgresServerReachable())) {
    // CLI tests run the built command as a child process against this database, so the socket
    // server must accept its connection beside the test's own (idle while the child runs).
    const db = await openDatabase({ embeddedMaxConnections: 4 });
    return { ...db, dispose: () => db.close() };
  }
  const name = `hris_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  const db = await openDatabase({ url: url.toString() });
  return {
    ...db,
    async dispose() {
      await db.close();
      const cleanup = new pg.Client({ connectionString: SERVER_URL });
      await cleanup.connect();
      try {
        await cleanup.query(`drop database if exists ${name} with (force)`);
      } finally {
        await cleanup.end();
      }
    },
  };
}
