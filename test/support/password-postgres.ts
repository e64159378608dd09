import { freePort } from './ports.js';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A throw-away PostgreSQL server that demands a password (scram-sha-256), for auth-failure tests. */
export interface PasswordPostgres {
  /** postgres://hris:<password>@127.0.0.1:<port>/postgres */
  url: string;
  password: string;
  stop(): Promise<void>;
}

function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort();
  const bin = versions.length ? path.join(root, versions[versions.length - 1]!, 'bin') : undefined;
  return bin && existsSync(path.join(bin, 'initdb')) ? bin : undefined;
}

/** Why a password-protected server cannot be started here, or undefined when it can. */
export function passwordPostgresUnavailable(): string | undefined {
  if (!postgresBinDir()) return 'PostgreSQL server binaries (initdb) are not installed under /usr/lib/postgresql';
  if (process.getuid?.() === 0 && !existsSync('/usr/sbin/runuser')) return 'running as root without runuser to drop to the postgres user';
  return undefined;
}


export async function startPasswordPostgres(): Promise<PasswordPostgres> {
  const bin = postgresBinDir()!;
  const base = await mkdtemp(path.join(tmpdir(), 'hris-pwpg-'));
  await chmod(base, 0o777);
  const dataDir = path.join(base, 'data');
  const password = 'right-password';
  const pwfile = path.join(base, 'pw');
  await writeFile(pwfile, password, { mode: 0o644 });
  // initdb and postgres refuse to run as root: run them as the postgres user.
  const asPostgres = (cmd: string, args: string[]) =>
    process.getuid?.() === 0 ? ['/usr/sbin/runuser', ['-u', 'postgres', '--', cmd, ...args]] as const : [cmd, args] as const;
  const [initCmd, initArgs] = asPostgres(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'hris', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8']);
  await run(initCmd, [...initArgs]);
  const port = await freePort();
  const [pgCmd, pgArgs] = asPostgres(path.join(bin, 'postgres'), ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-k', base]);
  const child: ChildProcess = spawn(pgCmd, [...pgArgs], { stdio: 'ignore' });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ready) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('the password-protected PostgreSQL did not start');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url: `postgres://hris:${password}@127.0.0.1:${port}/postgres`,
    password,
    async stop() {
      // Stopped with pg_ctl: a signal to runuser is not passed on to the server.
      const [stopCmd, stopArgs] = asPostgres(path.join(bin, 'pg_ctl'), ['stop', '-D', dataDir, '-m', 'immediate', '-w']);
      await run(stopCmd, [...stopArgs]).catch(() => child.kill('SIGKILL'));
      await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
      await rm(base, { recursive: true, force: true });
    },
  };
}
