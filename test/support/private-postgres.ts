import { stablePort } from './ports.js';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/**
 * A PostgreSQL cluster of our own (initdb + pg_ctl in a temp folder, trust auth on 127.0.0.1, a free
 * port), for tests that restart or stop the server: the shared server on 5432 must never be restarted.
 * As root the server runs as the `postgres` user (it refuses root), through runuser.
 */
export interface PrivatePostgres {
  port: number;
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url(database?: string): string;
  /** Creates DATABASE (empty) and returns its URL. */
  createDatabase(database: string): Promise<string>;
  /**
   * Restarts the server. `immediate` (default) aborts every session without a checkpoint, as a crash
   * or a failover would; `fast` rolls back open transactions and checkpoints first.
   */
  restart(mode?: 'immediate' | 'fast'): Promise<void>;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
}

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(a) - Number(b));
  for (const version of versions.reverse()) {
    const bin = path.join(root, version, 'bin');
    if (existsSync(path.join(bin, 'initdb')) && existsSync(path.join(bin, 'pg_ctl'))) return bin;
  }
  return undefined;
}

/** Why a private cluster cannot be started here, or undefined when it can. */
export function privatePostgresUnavailable(): string | undefined {
  if (!binDir()) return 'PostgreSQL server binaries (initdb, pg_ctl) are not installed under /usr/lib/postgresql';
  if (process.getuid?.() === 0 && !existsSync('/usr/sbin/runuser')) return 'running as root without runuser to drop to the postgres user';
  return undefined;
}


const asPostgres = (command: string, args: string[]): [string, string[]] =>
  process.getuid?.() === 0 ? ['/usr/sbin/runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir();
  if (!bin) throw new Error(privatePostgresUnavailable());
  const base = await mkdtemp(path.join(tmpdir(), 'hris-privpg-'));
  await chmod(base, 0o777); // the postgres user writes its data folder, socket and log here
  const dataDir = path.join(base, 'data');
  const logFile = path.join(base, 'server.log');
  const port = await stablePort();
  const pgCtl = async (args: string[]) => {
    const [command, full] = asPostgres(path.join(bin, 'pg_ctl'), args);
    await run(command, full, { timeout: 60_000 });
  };
  const [initCommand, initArgs] = asPostgres(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  await run(initCommand, initArgs, { timeout: 60_000 });
  // fsync off: the machine does not crash under a test. synchronous_commit stays on: with it off, an
  // immediate stop (restart('immediate')) loses commits the clients were told had happened.
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${base} -c fsync=off -c full_page_writes=off -c max_connections=50`;
  // A failed start says why: the server's log, not only pg_ctl's "could not start server".
  const start = () =>
    pgCtl(['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', options]).catch(async (error: unknown) => {
      const log = await readFile(logFile, 'utf8').catch(() => '(no log)');
      throw new Error(`${(error as Error).message}\nserver log:\n${log.slice(-2000)}`);
    });
  await start();
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  return {
    port,
    url,
    async createDatabase(database) {
      const admin = new pg.Client({ connectionString: url() });
      await admin.connect();
      try {
        await admin.query(`create database ${admin.escapeIdentifier(database)}`);
      } finally {
        await admin.end();
      }
      return url(database);
    },
    async restart(mode = 'immediate') {
      await pgCtl(['stop', '-D', dataDir, '-m', mode, '-w', '-t', '60']);
      await start();
    },
    async stop() {
      await pgCtl(['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '60']).catch(() => undefined);
      await rm(base, { recursive: true, force: true });
    },
  };
}
