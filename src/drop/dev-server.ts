import { timingSafeEqual } from 'node:crypto';
import { mkdir, readdir, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import ssh2, { type Connection, type ParsedKey } from 'ssh2';
import type { AppConfig } from '../config/app.js';
import { silentLogger, type Logger } from '../log.js';
import { DEV_DROP_POLLER_USER, devDropPaths, ensureDevDropKeys, generateParsableKeyPair } from './dev-keys.js';
import { normalizeVirtual, serveSftp } from './dev-sftp.js';
import { fingerprintOfPublicKeyLine } from './fingerprint.js';

const { Server, utils } = ssh2;

/**
 * The development SFTP drop: a small SFTP-only server on ssh2's Server for `npm start` and tests.
 * Public-key authentication only; each user is jailed to its folder under ROOT. A development aid:
 * production points the poller at a real SFTP server. This file is the SSH server (users, keys,
 * authentication, sessions); the SFTP operations on a user's folder are dev-sftp.ts.
 */

export interface DevDropUser {
  name: string;
  /** OpenSSH public key lines ("ssh-ed25519 AAAA... comment"). */
  publicKeys: string[];
  /** Folder under the drop root the user is jailed to ("/" = the whole root); default "/<name>". */
  home?: string;
}

export interface DevDropOptions {
  /** Local folder served by the drop. */
  root: string;
  port?: number;
  host?: string;
  users?: DevDropUser[];
  /**
   * Folder holding the generated host key and the poller's key (see dev-keys.ts); adds the poller
   * user "hris" jailed to the whole root, and a user per `users/<name>.pub` jailed to "/<name>".
   */
  keysDir?: string;
  /** Host private key (OpenSSH/PEM); default from keysDir, else generated for this run. */
  hostKey?: string;
  logger?: Logger;
}

export interface DevDrop {
  host: string;
  port: number;
  /** The host key fingerprint to pin ("SHA256:..."). */
  hostKeySha256: string;
  /** Drops every client connection (tests: a connection lost mid-transfer). */
  disconnectAll(): number;
  /**
   * Stops answering file reads, or answers them again, while the connection and its keepalives go on
   * (tests: a server whose file transfer hung on stuck storage).
   */
  stallReads(stalled: boolean): void;
  stop(): Promise<void>;
}

interface Account {
  name: string;
  keys: ParsedKey[];
  /** Absolute local folder that is "/" for this user. */
  jail: string;
}

export async function startDevDrop(options: DevDropOptions): Promise<DevDrop> {
  const logger = options.logger ?? silentLogger;
  const root = path.resolve(options.root);
  await mkdir(root, { recursive: true });
  const { hostKey, hostKeySha256, accounts } = await devDropAccounts(options, root);

  const clients = new Set<Connection>();
  let readsStalled = false;
  const server = new Server({ hostKeys: [hostKey] }, (client) => {
    clients.add(client);
    let account: Account | undefined;
    client.on('authentication', (ctx) => {
      const candidate = accounts.get(ctx.username);
      if (ctx.method !== 'publickey' || !candidate) return ctx.reject(['publickey']);
      const key = candidate.keys.find((k) => sameBytes(k.getPublicSSH(), ctx.key.data));
      if (!key) return ctx.reject(['publickey']);
      if (ctx.signature && ctx.blob && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(['publickey']);
      account = candidate;
      ctx.accept();
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('sftp', (acceptSftp) => {
          if (!account) return;
          logger.debug({ user: account.name }, 'dev drop sftp session');
          const sftp = acceptSftp();
          serveSftp(sftp, account.jail, logger);
          const reads = sftp.listeners('READ') as ((...args: unknown[]) => void)[];
          sftp.removeAllListeners('READ');
          sftp.on('READ', (...args: unknown[]) => {
            if (!readsStalled) for (const read of reads) read.apply(sftp, args);
          });
        });
        session.on('exec', (_accept, reject) => reject());
        session.on('shell', (_accept, reject) => reject());
        session.on('pty', (_accept, reject) => reject?.());
      });
    });
    client.on('error', (error) => logger.debug({ err: error.message }, 'dev drop client error'));
    client.on('close', () => clients.delete(client));
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 2022, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 2022);
  logger.info({ host, port, root, hostKeySha256, users: [...accounts.keys()] }, 'development SFTP drop listening');
  return {
    host,
    port,
    hostKeySha256,
    stallReads(stalled: boolean) {
      readsStalled = stalled;
    },
    disconnectAll() {
      const count = clients.size;
      for (const client of clients) client.end();
      return count;
    },
    async stop() {
      for (const client of clients) client.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The host key and the users (each jailed to its folder under ROOT) the drop accepts. */
async function devDropAccounts(options: DevDropOptions, root: string): Promise<{ hostKey: string; hostKeySha256: string; accounts: Map<string, Account> }> {
  const users: DevDropUser[] = [...(options.users ?? [])];
  let hostKey = options.hostKey;
  if (options.keysDir) {
    const keys = await ensureDevDropKeys(options.keysDir);
    hostKey ??= keys.host.privateKey;
    users.push({ name: DEV_DROP_POLLER_USER, publicKeys: [keys.poller.publicKey], home: '/' });
    users.push(...(await usersFromKeysDir(path.join(options.keysDir, 'users'))));
  }
  if (!hostKey) hostKey = generateParsableKeyPair('hris-dev-drop host').private;
  const parsedHost = utils.parseKey(hostKey);
  if (parsedHost instanceof Error) throw new Error(`dev drop host key: ${parsedHost.message}`);
  const hostKeySha256 = fingerprintOfPublicKeyLine(`${parsedHost.type} ${parsedHost.getPublicSSH().toString('base64')}`);

  const accounts = new Map<string, Account>();
  for (const user of users) {
    const keys = user.publicKeys.map((line) => {
      const parsed = utils.parseKey(line);
      if (parsed instanceof Error) throw new Error(`dev drop user ${user.name}: unreadable public key: ${parsed.message}`);
      return parsed;
    });
    const jail = path.join(root, normalizeVirtual(user.home ?? `/${user.name}`) ?? '/');
    await mkdir(jail, { recursive: true });
    const existing = accounts.get(user.name);
    if (existing) existing.keys.push(...keys);
    else accounts.set(user.name, { name: user.name, keys, jail: await realpath(jail) });
  }
  return { hostKey, hostKeySha256, accounts };
}

async function usersFromKeysDir(dir: string): Promise<DevDropUser[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.pub')).sort();
  } catch {
    return [];
  }
  const users: DevDropUser[] = [];
  for (const name of names) {
    const lines = (await readFile(path.join(dir, name), 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    users.push({ name: name.slice(0, -'.pub'.length), publicKeys: lines });
  }
  return users;
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}


/**
 * The development drop `npm start` runs when no drop host is configured: dataDir/drop served on
 * 127.0.0.1:drop.port, keys under dataDir/drop-keys (the poller pins the generated host key).
 */
export async function startConfiguredDevDrop(app: AppConfig, logger?: Logger): Promise<DevDrop> {
  const { root, keysDir } = devDropPaths(app);
  return startDevDrop({ root, keysDir, port: app.drop.port, host: '127.0.0.1', ...(logger ? { logger } : {}) });
}
