import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { generateTenantKey, type GeneratedKey } from '../../src/config/pgp-keys.js';

export const GPG = '/usr/bin/gpg';

export function gpgInstalled(): boolean {
  return existsSync(GPG);
}

/**
 * GnuPG in a throw-away home (never the user's keyring), as a customer's HR system would use it:
 * our public key imported, the customer's own signing key generated here.
 */
export class GnuPG {
  private constructor(readonly home: string) {}

  static async create(): Promise<GnuPG> {
    const home = await mkdtemp(path.join(os.tmpdir(), 'gnupg-test-'));
    await chmod(home, 0o700);
    return new GnuPG(home);
  }

  run(args: string[], input?: Buffer | string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        GPG,
        ['--homedir', this.home, '--batch', '--yes', '--no-tty', '--quiet', '--pinentry-mode', 'loopback', '--trust-model', 'always', ...args],
        { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => (error ? reject(new Error(`gpg ${args.join(' ')}: ${stderr.toString()}`)) : resolve(stdout)),
      );
      if (input !== undefined) child.stdin!.end(input);
    });
  }

  async importKey(armored: string): Promise<void> {
    await this.run(['--import'], armored);
  }

  /** A signing key of the customer's (no passphrase); returns its armoured public key and ids. */
  async generateSigningKey(uid: string): Promise<{ publicKey: string; fingerprint: string; keyId: string }> {
    await this.run(['--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', 'never']);
    const publicKey = (await this.run(['--armor', '--export', uid])).toString();
    const key = await openpgp.readKey({ armoredKey: publicKey });
    return { publicKey, fingerprint: key.getFingerprint().toUpperCase(), keyId: key.getKeyID().toHex().toUpperCase() };
  }

  /** `gpg --encrypt [--sign] [--armor]` of PLAINTEXT to RECIPIENT, as the customer's export would. */
  async encrypt(plaintext: string | Buffer, options: { recipient: string; signer?: string; armor?: boolean; compress?: 'zlib' | 'zip' | 'none' }): Promise<Buffer> {
    const args = ['--encrypt', '-r', options.recipient];
    if (options.signer) args.push('--sign', '-u', options.signer);
    if (options.armor) args.push('--armor');
    if (options.compress) args.push('--compress-algo', options.compress);
    return this.run([...args, '--output', '-'], plaintext);
  }

  async dispose(): Promise<void> {
    await rm(this.home, { recursive: true, force: true });
  }
}

/** A tenant key made by the product's own generator, written where a tenant config points. */
export async function tenantKeyFiles(dir: string, options: { passphrase?: string; type?: 'rsa' | 'ecc'; userId?: string } = {}): Promise<GeneratedKey & { privateKeyFile: string; passphrase: string }> {
  const passphrase = options.passphrase ?? 'correct horse battery staple';
  // ECC by default in tests: RSA 4096 takes seconds of the shared CPU to generate.
  const key = await generateTenantKey({ userId: options.userId ?? 'hris-ingest acme', passphrase, type: options.type ?? 'ecc' });
  await mkdir(dir, { recursive: true });
  const privateKeyFile = path.join(dir, `${key.fingerprint}.private.asc`);
  await writeFile(privateKeyFile, key.privateKey, { mode: 0o600 });
  return { ...key, privateKeyFile, passphrase };
}

/** The engine's own test helper for encrypting: openpgp.js, to any public key. */
export async function encryptWithOpenpgp(plaintext: string, publicKey: string, options: { armor?: boolean; signingKey?: openpgp.PrivateKey } = {}): Promise<Buffer> {
  const message = await openpgp.createMessage({ binary: new Uint8Array(Buffer.from(plaintext)) });
  const encryptionKeys = await openpgp.readKey({ armoredKey: publicKey });
  const signing = options.signingKey ? { signingKeys: options.signingKey } : {};
  if (options.armor) return Buffer.from(await openpgp.encrypt({ message, encryptionKeys, ...signing, format: 'armored' }));
  return Buffer.from(await openpgp.encrypt({ message, encryptionKeys, ...signing, format: 'binary' }));
}
