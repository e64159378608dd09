import path from 'node:path';
import type { DropConnection } from '../../src/drop/connection.js';
import { ensureDevDropKeys } from '../../src/drop/dev-keys.js';
import { startDevDrop, type DevDrop, type DevDropUser } from '../../src/drop/dev-server.js';

/**
 * The development drop serving WORK/drop (keys in WORK/drop-keys, USERS besides) on a free port, and the
 * poller's connection to it (OVERRIDES on top).
 */
export async function startTestDevDrop(
  work: string,
  overrides: Partial<DropConnection> = {},
  users: DevDropUser[] = [],
): Promise<{ drop: DevDrop; connection: DropConnection }> {
  const keysDir = path.join(work, 'drop-keys');
  const drop = await startDevDrop({ root: path.join(work, 'drop'), keysDir, port: 0, users });
  const keys = await ensureDevDropKeys(keysDir);
  const connection: DropConnection = {
    host: drop.host,
    port: drop.port,
    username: 'hris',
    privateKey: keys.poller.privateKey,
    hostKeySha256: drop.hostKeySha256,
    connectTimeoutMs: 3000,
    keepaliveIntervalMs: 1000,
    ...overrides,
  };
  return { drop, connection };
}
