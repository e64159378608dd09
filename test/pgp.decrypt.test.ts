import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgpKeyError } from '../src/config/pgp-keys.js';
import { tenantConfigSchema, type TenantConfig } from '../src/config/tenant.js';
import { openMembershipFile, type OpenedFile } from '../src/csv/open.js';
import type { ReadOptions } from '../src/csv/types.js';
import { csvOf, range } from './pipeline.support.js';
import { GnuPG, gpgInstalled, GPG, tenantKeyFiles } from './support/gpg.js';
import { serviceMissing } from './support/services.js';

const skip = !gpgInstalled() && serviceMissing('gpg', `${GPG} (GnuPG) is not installed`);
const PASSPHRASE_ENV = 'HRIS_TEST_PGP_DECRYPT_PASSPHRASE';

/** Reads NAME/BYTES as the engine would (in small chunks, as a socket delivers them): rows, totals, record. */
async function read(tenant: TenantConfig, name: string, bytes: Buffer, env: NodeJS.ProcessEnv, options: ReadOptions = {}) {
  const chunks = Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) => bytes.subarray(i * 7, i * 7 + 7));
  const opened: OpenedFile = {};
  const reading = openMembershipFile({ name, open: () => Readable.from(chunks) }, tenant, options, opened, env);
  let rows = 0;
  for await (const batch of reading.batches) rows += batch.rows.length + batch.invalid.length;
  return { rows, totals: await reading.totals, encryption: opened.encryption };
}

describe.skipIf(skip)('decrypting membership files (src/csv/decrypt.ts, open.ts)', () => {
  let dir: string;
  let gpg: GnuPG;
  let ours: Awaited<ReturnType<typeof tenantKeyFiles>>;
  let tenant: TenantConfig;
  let env: NodeJS.ProcessEnv;
  const text = csvOf(range(1, 20));

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pgp-decrypt-'));
    ours = await tenantKeyFiles(dir);
    gpg = await GnuPG.create();
    await gpg.importKey(ours.publicKey);
    tenant = tenantConfigSchema.parse({ id: 'acme', name: 'Acme', pgp: { privateKeyFile: ours.privateKeyFile, passphraseEnv: PASSPHRASE_ENV } });
    env = { [PASSPHRASE_ENV]: ours.passphrase };
  });
  afterAll(async () => {
    await gpg?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('the plaintext hash is the content hash, whatever the encryption', async () => {
    const plain = await read(tenantConfigSchema.parse({ id: 'acme', name: 'Acme' }), 'a.csv', Buffer.from(text), {});
    const encrypted = await read(tenant, 'a.csv.gpg', await gpg.encrypt(text, { recipient: ours.fingerprint, compress: 'zip' }), env);
    expect(encrypted.rows).toBe(20);
    expect(encrypted.totals.fatal).toBeUndefined();
    expect(encrypted.totals.sha256).toBe(plain.totals.sha256);
  });

  it('a hidden recipient (gpg --throw-keyids) is tried with our key', async () => {
    const hidden = await gpg.run(['--encrypt', '--throw-keyids', '-r', ours.fingerprint, '--output', '-'], text);
    const result = await read(tenant, 'a.csv.pgp', hidden, env);
    expect(result.totals.fatal).toBeUndefined();
    expect(result.rows).toBe(20);
    expect(result.encryption).toMatchObject({ recipients: ['0000000000000000'], fingerprint: ours.fingerprint });
  });

  it('a key made and exported by gpg (an operator bringing their own) works as the tenant key', async () => {
    const own = await GnuPG.create();
    try {
      await own.run(['--passphrase', 'gpg secret', '--quick-gen-key', 'Ops <ops@example.com>', 'future-default', 'default', 'never']);
      const secret = (await own.run(['--passphrase', 'gpg secret', '--armor', '--export-secret-keys', 'Ops'])).toString();
      const keyFile = path.join(dir, 'gpg-made.asc');
      await writeFile(keyFile, secret);
      const fingerprint = (await openpgp.readKey({ armoredKey: secret })).getFingerprint().toUpperCase();
      const encrypted = await own.encrypt(text, { recipient: fingerprint, armor: true });
      const gpgTenant = tenantConfigSchema.parse({ id: 'acme', name: 'Acme', pgp: { privateKeyFile: keyFile, passphraseEnv: PASSPHRASE_ENV } });
      const result = await read(gpgTenant, 'a.csv.asc', encrypted, { [PASSPHRASE_ENV]: 'gpg secret' });
      expect(result.totals.fatal).toBeUndefined();
      expect(result.rows).toBe(20);
      expect(result.encryption?.fingerprint).toBe(fingerprint);
    } finally {
      await own.dispose();
    }
  });

  it('names the customer-side problem: not OpenPGP, empty, password-encrypted, armour cut short', async () => {
    const notPgp = await read(tenant, 'a.csv.pgp', Buffer.from(text), env);
    expect(notPgp.totals.fatal?.message).toMatch(/^the file is not a valid OpenPGP message \(damaged, or not encrypted although named \.pgp\/\.gpg\/\.asc\)/);
    expect(notPgp.rows).toBe(0);
    const empty = await read(tenant, 'a.csv.gpg', Buffer.alloc(0), env);
    expect(empty.totals.fatal?.message).toBe('the file is empty: expected an OpenPGP-encrypted membership file');
    const message = await openpgp.createMessage({ text });
    const withPassword = Buffer.from(await openpgp.encrypt({ message, passwords: ['secret'], format: 'binary' }));
    const password = await read(tenant, 'a.csv.pgp', withPassword, env);
    expect(password.totals.fatal?.message).toMatch(/^the file is encrypted to no public key \(a password-encrypted or only signed message\), but this tenant's key is/);
    const armored = (await gpg.encrypt(csvOf(range(1, 500)), { recipient: ours.fingerprint, armor: true })).toString();
    const cut = await read(tenant, 'a.csv.asc', Buffer.from(armored.slice(0, Math.floor(armored.length * 0.8))), env);
    expect(cut.totals.fatal?.message).toMatch(/^the encrypted file is incomplete/);
    // Never the hash of real content: such a run is never a duplicate of an accepted one.
    expect(new Set([notPgp, empty, password, cut].map((r) => r.totals.sha256)).size).toBe(4);
  });

  it('a compressed file that decrypts to more than the cap is rejected, not read on (a decompression bomb)', async () => {
    // ~5.6 MB of rows that zlib packs into a few kilobytes, against a 1 MiB cap
    const big = csvOf(range(1, 20)) + `${csvOf(range(1, 1)).split('\n')[1]}\n`.repeat(40_000);
    for (const compress of ['zlib', 'zip'] as const) {
      const bomb = await gpg.encrypt(big, { recipient: ours.fingerprint, compress });
      expect(bomb.length).toBeLessThan(200_000);
      const result = await read(tenant, 'a.csv.gpg', bomb, env, { maxPlaintextBytes: 1024 ** 2 });
      expect(result.totals.fatal?.message).toMatch(/^the file decrypts to more than 1 MiB \(a million-row membership file is about 165 MB\)/);
      expect(result.encryption?.plaintextBytes ?? 0).toBeLessThanOrEqual(1024 ** 2 + 256 * 1024);
    }
    // Uncompressed, the same cap holds (counted as the plaintext arrives).
    const plain = await gpg.encrypt(big.slice(0, 200_000), { recipient: ours.fingerprint, compress: 'none' });
    const result = await read(tenant, 'a.csv.gpg', plain, env, { maxPlaintextBytes: 64 * 1024 });
    expect(result.totals.fatal?.message).toMatch(/^the file decrypts to more than 64 KiB /);
    // Under the cap, the same file reads whole.
    const whole = await read(tenant, 'a.csv.gpg', await gpg.encrypt(big, { recipient: ours.fingerprint, compress: 'zlib' }), env, { maxPlaintextBytes: 64 * 1024 ** 2 });
    expect(whole.totals.fatal).toBeUndefined();
    expect(whole.totals.records).toBe(40_020);
  });

  it('our side: a missing key file or unset passphrase variable is a PgpKeyError, not a rejection of the file', async () => {
    const encrypted = await gpg.encrypt(text, { recipient: ours.fingerprint });
    const failure = await read(tenant, 'a.csv.gpg', encrypted, {}).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PgpKeyError);
    expect((failure as Error).message).toContain(`the environment variable ${PASSPHRASE_ENV} (pgp.passphraseEnv) is not set`);
    const noFile = tenantConfigSchema.parse({ id: 'acme', name: 'Acme', pgp: { privateKeyFile: path.join(dir, 'missing.asc') } });
    const missing = await read(noFile, 'a.csv.gpg', encrypted, env).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(PgpKeyError);
    expect((missing as Error).message).toContain('missing.asc cannot be read (ENOENT)');
  });
});
