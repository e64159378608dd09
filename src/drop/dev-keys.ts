import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { AppConfig } from '../config/app.js';
import type { DropConnection } from './client.js';
import { fingerprintOfPublicKeyLine } from './fingerprint.js';

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
  return { host: await ensureKeyPair(dir, 'host_ed25519'), poller: await ensureKeyPair(dir, 'poller_ed25519') };
}

async function ensureKeyPair(dir: string, name: string): Promise<KeyPair> {
  const privateFile = path.join(dir, name);
  const publicFile = `${privateFile}.pub`;
  try {
    const [privateKey, publicKey] = await Promise.all([readFile(privateFile, 'utf8'), readFile(publicFile, 'utf8')]);
    return { privateKey, publicKey: publicKey.trim(), fingerprint: fingerprintOfPublicKeyLine(publicKey) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const generated = ssh2.utils.generateKeyPairSync('ed25519', { comment: `hris-dev-drop ${name}` });
  await writeFile(privateFile, generated.private, { mode: 0o600 });
  await writeFile(publicFile, `${generated.public.trim()}\n`, { mode: 0o644 });
  return { privateKey: generated.private, publicKey: generated.public.trim(), fingerprint: fingerprintOfPublicKeyLine(generated.public) };
}

export function devDropPaths(app: AppConfig): { root: string; keysDir: string } {
  const dataDir = path.resolve(app.dataDir);
  return { root: path.join(dataDir, 'drop'), keysDir: path.join(dataDir, 'drop-keys') };
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
  };
}
