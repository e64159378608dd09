import { readFile } from 'node:fs/promises';
import type * as OpenPGP from 'openpgp';
import { plainFilesRefused, type PgpConfig } from './pgp.js';

let loaded: Promise<typeof import('openpgp')> | undefined;

/** openpgp, loaded on first use: importing it cost ~0.1 s of every CLI start, and most runs read no encrypted file. */
export function loadOpenpgp(): Promise<typeof import('openpgp')> {
  return (loaded ??= import('openpgp'));
}

/**
 * A problem with OUR side of the OpenPGP set-up (key file missing or unreadable, passphrase unset or
 * wrong): an operator must fix it. The file it happened on is not the customer's fault: it stays in the
 * inbox and is taken again once the key works.
 */
export class PgpKeyError extends Error {
  override name = 'PgpKeyError';
  constructor(
    readonly tenantId: string,
    message: string,
  ) {
    super(`tenant ${tenantId}: ${message}`);
  }
}

/** Key ids as gpg prints them (`gpg --list-packets`, `--list-keys --keyid-format long`): 16 upper-case hex digits. */
export function keyIdText(id: { toHex(): string }): string {
  return id.toHex().toUpperCase();
}

export interface TenantKey {
  /** Unlocked (or never locked). */
  privateKey: OpenPGP.PrivateKey;
  fingerprint: string;
  /** The primary key's and every subkey's id. */
  keyIds: string[];
  /** The ids a customer's file may be encrypted to (the encryption subkeys; gpg names these). */
  encryptionKeyIds: string[];
}

export interface SignerKey {
  key: OpenPGP.Key;
  fingerprint: string;
  keyIds: string[];
}

async function keyFileText(tenantId: string, file: string, what: string): Promise<{ armored: string } | { binary: Uint8Array }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new PgpKeyError(tenantId, `${what} ${file} cannot be read (${code ?? (error as Error).message}): check pgp.${what === 'private key' ? 'privateKeyFile' : 'signerPublicKeyFile'} in the tenant config`);
  }
  const text = bytes.toString('latin1');
  return text.includes('-----BEGIN PGP') ? { armored: text } : { binary: new Uint8Array(bytes) };
}

/** The tenant's private key as stored (still locked), with its ids. */
export async function readTenantKey(tenantId: string, pgp: PgpConfig): Promise<Omit<TenantKey, 'privateKey'> & { locked: OpenPGP.PrivateKey }> {
  const source = await keyFileText(tenantId, pgp.privateKeyFile, 'private key');
  const openpgp = await loadOpenpgp();
  let key: OpenPGP.PrivateKey;
  try {
    key = 'armored' in source ? await openpgp.readPrivateKey({ armoredKey: source.armored }) : await openpgp.readPrivateKey({ binaryKey: source.binary });
  } catch (error) {
    throw new PgpKeyError(tenantId, `${pgp.privateKeyFile} is not an OpenPGP private key (${(error as Error).message}); a public key will not do: point pgp.privateKeyFile at the secret key file`);
  }
  // The subkey a customer's tool picks to encrypt to (gpg names it in its messages); every subkey when
  // none is valid for encryption (expired), so that an error message still names something.
  const encryptionKeyIds = await key.getEncryptionKey().then(
    (sub) => [keyIdText(sub.getKeyID())],
    () => key.subkeys.map((sub) => keyIdText(sub.getKeyID())),
  );
  return {
    locked: key,
    fingerprint: key.getFingerprint().toUpperCase(),
    keyIds: key.getKeyIDs().map(keyIdText),
    encryptionKeyIds,
  };
}

/** The tenant's private key, unlocked with the passphrase from the environment variable the config names. */
export async function unlockTenantKey(tenantId: string, pgp: PgpConfig, env: NodeJS.ProcessEnv = process.env): Promise<TenantKey> {
  const { locked, ...ids } = await readTenantKey(tenantId, pgp);
  if (locked.isDecrypted()) return { privateKey: locked, ...ids };
  if (!pgp.passphraseEnv) {
    throw new PgpKeyError(tenantId, `the private key ${pgp.privateKeyFile} is passphrase-protected, but the tenant config sets no pgp.passphraseEnv`);
  }
  const passphrase = env[pgp.passphraseEnv];
  if (passphrase === undefined || passphrase === '') {
    throw new PgpKeyError(tenantId, `the environment variable ${pgp.passphraseEnv} (pgp.passphraseEnv) is not set: it must hold the passphrase of ${pgp.privateKeyFile}`);
  }
  const openpgp = await loadOpenpgp();
  try {
    return { privateKey: await openpgp.decryptKey({ privateKey: locked, passphrase }), ...ids };
  } catch (error) {
    const wrong = /passphrase/i.test((error as Error).message);
    throw new PgpKeyError(
      tenantId,
      wrong
        ? `the passphrase in ${pgp.passphraseEnv} does not unlock the private key ${pgp.privateKeyFile} (key ${ids.fingerprint})`
        : `the private key ${pgp.privateKeyFile} cannot be unlocked: ${(error as Error).message}`,
    );
  }
}

/** The customer's public signing key, when the tenant config names one. */
export async function readSignerKey(tenantId: string, pgp: PgpConfig): Promise<SignerKey | null> {
  if (!pgp.signerPublicKeyFile) return null;
  const source = await keyFileText(tenantId, pgp.signerPublicKeyFile, 'signer public key');
  const openpgp = await loadOpenpgp();
  let key: OpenPGP.Key;
  try {
    key = 'armored' in source ? await openpgp.readKey({ armoredKey: source.armored }) : await openpgp.readKey({ binaryKey: source.binary });
  } catch (error) {
    throw new PgpKeyError(tenantId, `${pgp.signerPublicKeyFile} is not an OpenPGP public key (${(error as Error).message}): check pgp.signerPublicKeyFile`);
  }
  return { key: key.isPrivate() ? key.toPublic() : key, fingerprint: key.getFingerprint().toUpperCase(), keyIds: key.getKeyIDs().map(keyIdText) };
}

/** For `config check`: the key can be read and unlocked (and the signer key read). One line of what was found. */
export async function checkTenantKeys(tenantId: string, pgp: PgpConfig, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const key = await unlockTenantKey(tenantId, pgp, env);
  const signer = await readSignerKey(tenantId, pgp);
  return (
    `private key ${key.fingerprint} unlocked (files are encrypted to subkey ${key.encryptionKeyIds.join(', ')})` +
    (signer ? `; files must be signed by ${signer.fingerprint}` : '') +
    (plainFilesRefused(pgp) ? '; plain files rejected' : '; plain files accepted too')
  );
}

export interface GeneratedKey {
  privateKey: string;
  publicKey: string;
  fingerprint: string;
  /** The subkey customers' tools encrypt to (what gpg shows as the recipient). */
  encryptionKeyId: string;
}

/**
 * A new key pair for a tenant (`hris-ingest keys generate`): RSA 4096 by default, which every HR system's
 * PGP option and every gpg reads; `ecc` (Curve25519) where the customer's tool supports it. Version 4
 * keys (openpgp's default), so GnuPG 2.2 and other RFC 4880 tools can use them.
 */
export async function generateTenantKey(options: { userId: string; passphrase: string; type?: 'rsa' | 'ecc' }): Promise<GeneratedKey> {
  const openpgp = await loadOpenpgp();
  const { privateKey, publicKey } = await openpgp.generateKey({
    ...(options.type === 'ecc' ? { type: 'ecc' as const, curve: 'curve25519Legacy' as const } : { type: 'rsa' as const, rsaBits: 4096 }),
    userIDs: [{ name: options.userId }],
    passphrase: options.passphrase,
    format: 'armored',
  });
  const key = await openpgp.readKey({ armoredKey: publicKey });
  const encryption = await key.getEncryptionKey();
  return { privateKey, publicKey, fingerprint: key.getFingerprint().toUpperCase(), encryptionKeyId: keyIdText(encryption.getKeyID()) };
}
