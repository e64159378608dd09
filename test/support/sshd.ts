import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SSHD_BINARY = '/usr/sbin/sshd';
/** 2022 as the issues name it; HRIS_TEST_SSHD_PORT moves it for parallel checkouts on one machine. */
export const SSHD_PORT = Number(process.env.HRIS_TEST_SSHD_PORT ?? 2022);

/** A real OpenSSH sshd on 127.0.0.1:2022 with its own config, keys and a chrooted SFTP-only drop. */
export interface SshdHandle {
  port: number;
  host: string;
  /** Login user (we run as root; internal-sftp chrooted to `root`). */
  user: string;
  /** Local folder that the SFTP user sees as "/". */
  root: string;
  /** Private key file of the authorised client (for `sftp -i` and the poller). */
  clientKeyFile: string;
  /** The host key fingerprint as `ssh-keygen -lf` prints it. */
  hostKeySha256: string;
  /** Kills every open session (the per-connection sshd processes), leaving the listener up. */
  killSessions(): Promise<number>;
  /**
   * The same, synchronously: called from a transfer progress callback it blocks the event loop, so
   * the client cannot complete the download before the connection dies.
   */
  killSessionsSync(): number;
  /** sshd's log so far (stderr with -e). */
  log(): string;
  stop(): Promise<void>;
}

export function sshdInstalled(): boolean {
  return existsSync(SSHD_BINARY) && existsSync('/usr/bin/ssh-keygen') && existsSync('/usr/bin/sftp');
}

export async function keygen(file: string): Promise<string> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hris-test', '-f', file]);
  const { stdout } = await run('ssh-keygen', ['-lf', `${file}.pub`]);
  const fingerprint = stdout.split(/\s+/)[1];
  if (!fingerprint?.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen -lf output: ${stdout}`);
  return fingerprint;
}

async function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

async function waitForPort(port: number, host: string, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, host);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on ${host}:${port} within ${timeoutMs} ms`);
}

function parentOf(stat: string): number {
  // pid (comm) state ppid ...; comm may contain spaces, so split after the last ')'.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** Every descendant of PID (sshd's per-connection monitor and its unprivileged session child). */
function descendantsSync(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      parents.set(Number(entry), parentOf(readFileSync(`/proc/${entry}/stat`, 'utf8')));
    } catch {
      // the process ended meanwhile
    }
  }
  const found: number[] = [];
  const walk = (parent: number): void => {
    for (const [child, ppid] of parents) {
      if (ppid === parent) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return found;
}

export async function startSshd(): Promise<SshdHandle> {
  const host = '127.0.0.1';
  if (!(await portFree(SSHD_PORT, host))) {
    throw new Error(`port ${SSHD_PORT} on ${host} is in use: stop whatever holds it (another test's sshd or dev drop?)`);
  }
  // ChrootDirectory demands root-owned, non-group/world-writable components all the way up,
  // so the folder lives under root's home (0700) rather than /tmp (1777).
  const base = await mkdtemp(path.join(os.homedir(), '.hris-sshd-'));
  await chmod(base, 0o755);
  const root = path.join(base, 'drop');
  await mkdir(root, { mode: 0o755 });
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = path.join(base, 'ssh_host_ed25519_key');
  const clientKeyFile = path.join(base, 'client_ed25519');
  const [hostKeySha256] = await Promise.all([keygen(hostKey), keygen(clientKeyFile)]);
  await writeFile(path.join(base, 'authorized_keys'), await readFile(`${clientKeyFile}.pub`), { mode: 0o600 });
  const config = path.join(base, 'sshd_config');
  await writeFile(
    config,
    [
      `Port ${SSHD_PORT}`,
      `ListenAddress ${host}`,
      `HostKey ${hostKey}`,
      `PidFile ${path.join(base, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(base, 'authorized_keys')}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'AllowTcpForwarding no',
      'X11Forwarding no',
      'LogLevel VERBOSE',
      'MaxStartups 50:30:100',
      'Subsystem sftp internal-sftp',
      `ChrootDirectory ${root}`,
      'ForceCommand internal-sftp',
      '',
    ].join('\n'),
  );
  await run(SSHD_BINARY, ['-t', '-f', config]);
  const child = spawn(SSHD_BINARY, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    log += chunk.toString();
    if (log.length > 200_000) log = log.slice(-100_000);
  });
  try {
    await waitForPort(SSHD_PORT, host, child);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(base, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}\n${log}`);
  }
  return {
    port: SSHD_PORT,
    host,
    user: 'root',
    root,
    clientKeyFile,
    hostKeySha256,
    async killSessions() {
      const sessions = descendantsSync(child.pid!);
      for (const pid of sessions) process.kill(pid, 'SIGKILL');
      return sessions.length;
    },
    killSessionsSync() {
      const sessions = descendantsSync(child.pid!);
      for (const pid of sessions) process.kill(pid, 'SIGKILL');
      return sessions.length;
    },
    log: () => log,
    async stop() {
      for (const pid of descendantsSync(child.pid!)) process.kill(pid, 'SIGKILL');
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(base, { recursive: true, force: true });
    },
  };
}
