import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { AppConfig } from '../config/app.js';
import type { TenantConfig } from '../config/tenant.js';
import type { DropConnection } from './connection.js';
import { fingerprintOfPublicKeyLine } from './fingerprint.js';
import { tenantLayout } from './layout.js';

/** The user the poller logs in as on the development drop (jailed to the whole drop root). */
export const DEV_DROP_POLLER_USER = 'hris';

export interface KeyPair {
  privateKey: string;
  /** OpenSSH public key line. */
  publicKey: string;
  fingerprint: string;
}

export interface DevDropKeys {
  host: KeyPair;
  poller: KeyPair;
}

/** The development drop's keys: generated once (ed25519) and kept under DIR. */
export async function ensureDevDropKeys(dir: string): Promise<DevDropKeys> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return {
    host: await ensureKeyPair(dir, 'host_ed25519', 'hris-dev-drop host_ed25519'),
    poller: await ensureKeyPair(dir, 'poller_ed25519', 'hris-dev-drop poller_ed25519'),
  };
}

/** Key pairs being loaded or generated in this process, so concurrent callers share one result. */
const inFlight = new Map<string, Promise<KeyPair>>();

/** The ed25519 key pair DIR/NAME (+ .pub): loaded, else generated with COMMENT and written atomically. */
export function ensureKeyPair(dir: string, name: string, comment: string): Promise<KeyPair> {
  const privateFile = path.join(dir, name);
  let pending = inFlight.get(privateFile);
  if (!pending) {
    pending = loadOrGenerateKeyPair(privateFile, comment).finally(() => inFlight.delete(privateFile));
    inFlight.set(privateFile, pending);
  }
  return pending;
}

async function loadOrGenerateKeyPair(privateFile: string, comment: string): Promise<KeyPair> {
  const publicFile = `${privateFile}.pub`;
  try {
    // The private key is renamed into place last, so once it exists its public half does too.
    const privateKey = await readFile(privateFile, 'utf8');
    const publicKey = await readFile(publicFile, 'utf8');
    return { privateKey, publicKey: publicKey.trim(), fingerprint: fingerprintOfPublicKeyLine(publicKey) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const generated = generateParsableKeyPair(comment);
  // Written to temporary names and renamed, so a reader never sees a half-written key.
  const suffix = `.tmp-${process.pid}-${Date.now()}`;
  await writeFile(publicFile + suffix, `${generated.public.trim()}\n`, { mode: 0o644 });
  await writeFile(privateFile + suffix, generated.private, { mode: 0o600 });
  await rename(publicFile + suffix, publicFile);
  await rename(privateFile + suffix, privateFile);
  return { privateKey: generated.private, publicKey: generated.public.trim(), fingerprint: fingerprintOfPublicKeyLine(generated.public) };
}

/**
 * ssh2's generator now and then (about 1 in 250 here) emits an ed25519 key its own parser rejects
 * ("Malformed OpenSSH private key"); such a key is thrown away and another generated.
 */
export function generateParsableKeyPair(comment: string): { private: string; public: string } {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const generated = ssh2.utils.generateKeyPairSync('ed25519', { comment });
    if (!(ssh2.utils.parseKey(generated.private) instanceof Error) && !(ssh2.utils.parseKey(generated.public) instanceof Error)) {
      return generated;
    }
  }
  throw new Error('could not generate a usable ed25519 key pair for the development drop');
}

export function devDropPaths(app: AppConfig): { root: string; keysDir: string } {
  const dataDir = path.resolve(app.dataDir);
  return { root: path.join(dataDir, 'drop'), keysDir: path.join(dataDir, 'drop-keys') };
}

/** The local folder behind TENANT's inbox on the development drop. */
export function devInboxDir(app: AppConfig, tenant: TenantConfig): string {
  return path.join(devDropPaths(app).root, ...tenantLayout(tenant).inbox.split('/').filter(Boolean));
}

/** How the poller reaches the development drop: its own generated host key is the pinned one. */
export async function devDropClientConnection(app: AppConfig): Promise<DropConnection> {
  const keys = await ensureDevDropKeys(devDropPaths(app).keysDir);
  return {
    host: '127.0.0.1',
    port: app.drop.port,
    username: DEV_DROP_POLLER_USER,
    privateKey: keys.poller.privateKey,
    hostKeySha256: keys.host.fingerprint,
    connectTimeoutMs: app.drop.connectTimeoutMs,
    keepaliveIntervalMs: app.drop.keepaliveIntervalMs,
    stallTimeoutMs: app.drop.stallTimeoutMs,
  };
}
