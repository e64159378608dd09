import { readFile } from 'node:fs/promises';
import path from 'node:path';
import SftpClient from 'ssh2-sftp-client';
import type { AppConfig } from '../config/app.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { STALL_TIMEOUT_MS, type DropConnection } from './connection.js';
import { sameFingerprint, sha256Fingerprint } from './fingerprint.js';

export type { DropConnection } from './connection.js';

/** The server presented a host key other than the pinned one (or none is pinned). */
export class HostKeyError extends Error {
  override name = 'HostKeyError';
  constructor(
    readonly seen: string,
    readonly expected: string | undefined,
    where: string,
  ) {
    super(
      expected
        ? `host key of ${where} is ${seen}, but ${expected} is pinned (drop.hostKeySha256 / DROP_HOST_KEY_SHA256): refusing to connect; if the server's key really changed, pin the new fingerprint`
        : `host key of ${where} is ${seen}, but no fingerprint is pinned: set drop.hostKeySha256 / DROP_HOST_KEY_SHA256 after checking it with the server's operator (ssh-keygen -lf <host key>.pub)`,
    );
  }
}

/** The drop could not be reached or refused us (network, authentication, host key). */
export class DropUnreachableError extends Error {
  override name = 'DropUnreachableError';
}

/**
 * The connection settings for a configured drop. When no host is configured, the development drop
 * (see dev-server.ts) is used with its own generated keys under dataDir.
 */
export async function resolveDropConnection(app: AppConfig): Promise<DropConnection> {
  const drop = app.drop;
  if (!drop.host) {
    const { devDropClientConnection } = await import('./dev-keys.js');
    return devDropClientConnection(app);
  }
  if (!drop.user) throw new DropUnreachableError('drop.user / DROP_USER is not set');
  let privateKey: string | Buffer | undefined = drop.privateKey;
  if (!privateKey && drop.privateKeyFile) {
    const file = path.resolve(drop.privateKeyFile);
    try {
      privateKey = await readFile(file);
    } catch (error) {
      throw new DropUnreachableError(`private key file ${file} (DROP_PRIVATE_KEY_FILE) is not readable: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  if (!privateKey) throw new DropUnreachableError('no private key: set drop.privateKeyFile / DROP_PRIVATE_KEY_FILE or DROP_PRIVATE_KEY');
  return {
    host: drop.host,
    port: drop.port,
    username: drop.user,
    privateKey,
    ...(drop.passphrase ? { passphrase: drop.passphrase } : {}),
    hostKeySha256: drop.hostKeySha256 ?? '',
    connectTimeoutMs: drop.connectTimeoutMs,
    keepaliveIntervalMs: drop.keepaliveIntervalMs,
    stallTimeoutMs: drop.stallTimeoutMs,
  };
}

/** An open SFTP session; `sftp` is the ssh2-sftp-client instance. */
export interface DropSession {
  sftp: SftpClient;
  /** host:port, for log lines. */
  where: string;
  close(): Promise<void>;
}

/** Opens an SFTP session, refusing any host key but the pinned one. */
export async function connectDrop(connection: DropConnection, logger: Logger = silentLogger): Promise<DropSession> {
  const where = `${connection.host}:${connection.port}`;
  let seen: string | undefined;
  const sftp = new SftpClient('hris-drop', {
    // Connection-level events after connect: the next operation fails and the next tick reconnects.
    error: (error) => logger.debug({ drop: where, err: (error as Error).message }, 'drop connection error'),
    end: () => logger.debug({ drop: where }, 'drop connection ended'),
    close: () => logger.debug({ drop: where }, 'drop connection closed'),
  });
  try {
    await sftp.connect({
      host: connection.host,
      port: connection.port,
      username: connection.username,
      privateKey: connection.privateKey,
      ...(connection.passphrase ? { passphrase: connection.passphrase } : {}),
      readyTimeout: connection.connectTimeoutMs,
      keepaliveInterval: connection.keepaliveIntervalMs,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        seen = sha256Fingerprint(key);
        return connection.hostKeySha256 !== '' && sameFingerprint(seen, connection.hostKeySha256);
      },
    });
  } catch (error) {
    await sftp.end().catch(() => undefined);
    if (seen && (!connection.hostKeySha256 || !sameFingerprint(seen, connection.hostKeySha256))) {
      throw new HostKeyError(seen, connection.hostKeySha256 || undefined, where);
    }
    throw new DropUnreachableError(`drop ${where} not reachable: ${describe(error)}`);
  }
  logger.debug({ drop: where }, 'drop connected');
  return {
    sftp: withStallTimeout(sftp, connection.stallTimeoutMs ?? STALL_TIMEOUT_MS, where),
    where,
    async close() {
      await sftp.end().catch(() => undefined);
    },
  };
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // ssh2 messages never carry the key, but keep them to one line.
  return message.replace(/\s+/g, ' ').slice(0, 300);
}

/** An SFTP operation that got no answer (or, a download, no bytes) for the stall timeout. */
export class DropStalledError extends Error {
  override name = 'DropStalledError';
}

/**
 * The operations a poll makes that answer at once, or (fastGet) report each chunk: each watched for a
 * stall. Not `put`: it reports no progress, and a big errors file over a slow link may take longer than
 * the stall timeout in all (a dead connection still fails it through the keepalives).
 */
const WATCHED = new Set<PropertyKey>(['list', 'stat', 'exists', 'fastGet', 'rename', 'mkdir', 'delete', 'rmdir', 'realPath']);

/**
 * SFTP with every operation watched: one that makes no progress for STALL_MS (a download: no bytes) drops
 * the connection and fails, so the tick ends and the next one reconnects. SSH keepalives only prove the
 * connection: a server whose file-transfer process hung (stuck storage) still answers them, and the
 * tick, with the tenant's claim renewed by its heartbeat and its run's lock held, waited forever.
 */
function withStallTimeout(sftp: SftpClient, stallMs: number, where: string): SftpClient {
  const drop = () => (sftp as unknown as { client?: { destroy?: () => void } }).client?.destroy?.();
  return new Proxy(sftp, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || !WATCHED.has(property)) return value;
      return (...args: unknown[]) => {
        let timer: NodeJS.Timeout | undefined;
        let fail: (error: Error) => void = () => undefined;
        const stalled = new Promise<never>((_resolve, reject) => (fail = reject));
        const arm = () => {
          clearTimeout(timer);
          timer = setTimeout(() => {
            fail(new DropStalledError(`drop ${where}: ${String(property)} got no answer for ${Math.round(stallMs / 1000)} s (drop.stallTimeoutMs); connection dropped`));
            drop();
          }, stallMs);
        };
        if (property === 'fastGet') {
          // each chunk written is progress
          const options = { ...((args[2] as Record<string, unknown> | undefined) ?? {}) };
          const step = options.step as ((...s: unknown[]) => void) | undefined;
          options.step = (...s: unknown[]) => {
            arm();
            step?.(...s);
          };
          args[2] = options;
        }
        arm();
        return Promise.race([(value as (...a: unknown[]) => Promise<unknown>).apply(target, args), stalled]).finally(() => clearTimeout(timer));
      };
    },
  });
}
