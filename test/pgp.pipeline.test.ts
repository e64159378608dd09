import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTenantKeys, PgpKeyError } from '../src/config/pgp-keys.js';
import { ingestFile, previewFile, type FileInput } from '../src/pipeline.js';
import { countRows, csvOf, fileOf, membersOf, range, tenantOf, useEngine } from './pipeline.support.js';
import { encryptWithOpenpgp, GnuPG, gpgInstalled, GPG, tenantKeyFiles } from './support/gpg.js';
import { serviceMissing } from './support/services.js';

const skip = !gpgInstalled() && serviceMissing('gpg', `${GPG} (GnuPG) is not installed`);
const PASSPHRASE_ENV = 'HRIS_TEST_PGP_PASSPHRASE';

const bytesFile = (name: string, bytes: Buffer): FileInput => ({ name, open: () => Readable.from([bytes]) });

describe.skipIf(skip)('OpenPGP-encrypted membership files through the pipeline (GnuPG interop)', () => {
  const engine = useEngine({ outDir: 'engine-pgp-' });
  let dir: string;
  let gpg: GnuPG;
  let ours: Awaited<ReturnType<typeof tenantKeyFiles>>;
  let customer: { publicKey: string; fingerprint: string; keyId: string };
  let signerFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pgp-pipeline-'));
    ours = await tenantKeyFiles(path.join(dir, 'keys'));
    process.env[PASSPHRASE_ENV] = ours.passphrase;
    gpg = await GnuPG.create();
    await gpg.importKey(ours.publicKey);
    customer = await gpg.generateSigningKey('Customer HR <hr@customer.example>');
    signerFile = path.join(dir, 'customer.asc');
    await writeFile(signerFile, customer.publicKey);
  });
  afterAll(async () => {
    delete process.env[PASSPHRASE_ENV];
    await gpg?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  const pgpTenant = (pgp: Record<string, unknown> = {}) => tenantOf({ pgp: { privateKeyFile: ours.privateKeyFile, passphraseEnv: PASSPHRASE_ENV, ...pgp } });
  const runRow = async (runId: number) =>
    (await engine.db.pool.query('select status, sha256, file_date::text as file_date, encryption from runs where id = $1', [runId])).rows[0];

  it('reads a file encrypted by gpg (binary, compressed) and records the key; the date comes from the name', async () => {
    const encrypted = await gpg.encrypt(csvOf(range(1, 10)), { recipient: ours.fingerprint, compress: 'zlib' });
    const summary = await ingestFile(engine.ctx, pgpTenant(), bytesFile('Acme - 01.13.2023.csv.gpg', encrypted), { outDir: engine.out });
    expect(summary).toMatchObject({ status: 'accepted', rows: 10, counts: { invites: 10 } });
    expect(summary.encryption).toEqual({ armored: false, recipients: [ours.encryptionKeyId], fingerprint: ours.fingerprint, keyId: ours.encryptionKeyId, signer: null });
    const run = await runRow(summary.runId!);
    expect(run.file_date).toBe('2023-01-13');
    expect(path.basename(summary.files.invites!)).toBe('acme 2023-01-13 potential invites.csv');
    expect((await membersOf(engine.db)).size).toBe(10);
  });

  it('reads an ASCII-armoured, signed file with the signer key configured; the same content again is a duplicate', async () => {
    const tenant = pgpTenant({ signerPublicKeyFile: signerFile });
    const text = csvOf(range(1, 10));
    const armored = await gpg.encrypt(text, { recipient: ours.fingerprint, signer: customer.fingerprint, armor: true });
    expect(armored.toString('latin1')).toMatch(/^-----BEGIN PGP MESSAGE-----/);
    const first = await ingestFile(engine.ctx, tenant, bytesFile('acme 2023-02-01.csv.asc', armored));
    expect(first.status).toBe('accepted');
    expect(first.encryption).toMatchObject({ armored: true, keyId: ours.encryptionKeyId, signer: customer.keyId });
    // Encrypted again (a new session key, so other bytes): the content is the same, so a duplicate.
    const again = await gpg.encrypt(text, { recipient: ours.fingerprint, signer: customer.fingerprint });
    const second = await ingestFile(engine.ctx, tenant, bytesFile('acme 2023-02-02.csv.pgp', again));
    expect(second.status).toBe('duplicate');
    // And so is the plain CSV of that content, for a tenant that also accepts plain files.
    expect((await ingestFile(engine.ctx, tenantOf(), fileOf('acme 2023-02-03.csv', text))).status).toBe('duplicate');
  });

  it('refuses a file encrypted to another key, naming the key it was encrypted to and ours', async () => {
    await ingestFile(engine.ctx, pgpTenant(), fileOf('base.csv', csvOf(range(1, 5))));
    const other = await openpgp.generateKey({ type: 'ecc', userIDs: [{ name: 'someone else' }], format: 'armored' });
    const otherKey = await openpgp.readKey({ armoredKey: other.publicKey });
    const otherSubkey = (await otherKey.getEncryptionKey()).getKeyID().toHex().toUpperCase();
    const encrypted = await encryptWithOpenpgp(csvOf(range(1, 3)), other.publicKey);
    const summary = await ingestFile(engine.ctx, pgpTenant(), bytesFile('acme 2023-03-01.csv.pgp', encrypted), { outDir: engine.out });
    expect(summary.status).toBe('rejected');
    expect(summary.errors).toHaveLength(1);
    expect(summary.errors[0]!.message).toContain(`encrypted to key ${otherSubkey}`);
    expect(summary.errors[0]!.message).toContain(`this tenant's key is ${ours.encryptionKeyId} (fingerprint ${ours.fingerprint})`);
    expect(summary.reasons[0]).toContain(otherSubkey);
    const errorsCsv = parse(await readFile(summary.files.errors!, 'utf8')) as string[][];
    expect(errorsCsv[1]![3]).toContain(otherSubkey);
    expect(summary.encryption).toMatchObject({ recipients: [otherSubkey], keyId: null });
    expect((await membersOf(engine.db)).size).toBe(5);
  });

  it('rejects a truncated file even though its first rows were already read, and applies nothing', async () => {
    await ingestFile(engine.ctx, pgpTenant(), fileOf('base.csv', csvOf(range(1, 100))));
    // Uncompressed, so that plaintext rows are released before the cut is reached.
    const encrypted = await gpg.encrypt(csvOf(range(1, 3000)), { recipient: ours.fingerprint, compress: 'none' });
    const cut = encrypted.subarray(0, Math.floor(encrypted.length * 0.7));
    const summary = await ingestFile(engine.ctx, pgpTenant(), bytesFile('acme 2023-04-01.csv.gpg', cut));
    expect(summary.status).toBe('rejected');
    const issue = summary.errors[0]!;
    expect(issue.message).toMatch(/^the encrypted file is incomplete: it ends in the middle of the encrypted data \(after \d+ line\(s\) of the membership data\)/);
    expect(issue.line).toBeGreaterThan(1000); // a late failure: the reader had taken most rows
    expect((await membersOf(engine.db)).size).toBe(100);
    const run = await runRow(summary.runId!);
    expect(run.status).toBe('rejected');
  });

  it('rejects a file whose integrity check fails at the end (a changed byte)', async () => {
    const encrypted = Buffer.from(await gpg.encrypt(csvOf(range(1, 2000)), { recipient: ours.fingerprint, compress: 'none' }));
    encrypted[encrypted.length - 30]! ^= 0x01;
    const summary = await ingestFile(engine.ctx, pgpTenant(), bytesFile('acme 2023-04-02.csv.gpg', encrypted));
    expect(summary.status).toBe('rejected');
    expect(summary.reasons[0]).toMatch(/^the file could not be read: the encrypted data is corrupt: its integrity check failed/);
    // The changed byte also garbled a row before the check failed (CFB): that row's error is listed too.
    const fatal = summary.errors.find((e) => e.message.startsWith('the encrypted data is corrupt'));
    expect(fatal!.line).toBeGreaterThan(1000);
    expect(await countRows(engine.db, 'members')).toBe(0);
  });

  it('with a signer key: rejects an unsigned file and one signed by another key', async () => {
    const tenant = pgpTenant({ signerPublicKeyFile: signerFile });
    const unsigned = await gpg.encrypt(csvOf(range(1, 5)), { recipient: ours.fingerprint });
    const a = await ingestFile(engine.ctx, tenant, bytesFile('acme 2023-05-01.csv.gpg', unsigned));
    expect(a.status).toBe('rejected');
    expect(a.errors[0]!.message).toBe(`the file is not signed: this tenant requires files signed by key ${customer.fingerprint}; encrypt and sign the file`);
    const intruder = await gpg.generateSigningKey('Someone Else <x@other.example>');
    const wrongSigner = await gpg.encrypt(csvOf(range(1, 5)), { recipient: ours.fingerprint, signer: intruder.fingerprint });
    const b = await ingestFile(engine.ctx, tenant, bytesFile('acme 2023-05-02.csv.gpg', wrongSigner));
    expect(b.status).toBe('rejected');
    expect(b.errors[0]!.message).toContain(`signed by key ${intruder.keyId}, but this tenant accepts only files signed by key ${customer.fingerprint}`);
    expect(await countRows(engine.db, 'members')).toBe(0);
  });

  it('a wrong passphrase on our side fails the run (nothing stored) instead of rejecting the file', async () => {
    const encrypted = await gpg.encrypt(csvOf(range(1, 5)), { recipient: ours.fingerprint });
    process.env[PASSPHRASE_ENV] = 'not the passphrase';
    try {
      const failure = await ingestFile(engine.ctx, pgpTenant(), bytesFile('acme 2023-06-01.csv.gpg', encrypted)).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(PgpKeyError);
      expect((failure as Error).message).toBe(
        `tenant acme: the passphrase in ${PASSPHRASE_ENV} does not unlock the private key ${ours.privateKeyFile} (key ${ours.fingerprint})`,
      );
    } finally {
      process.env[PASSPHRASE_ENV] = ours.passphrase;
    }
    expect(await countRows(engine.db, 'runs')).toBe(0);
    expect(await countRows(engine.db, 'outbox')).toBe(0);
  });

  it('required: true rejects a plain CSV with the reason; a tenant without pgp rejects an encrypted file', async () => {
    const plain = await ingestFile(engine.ctx, pgpTenant({ required: true }), fileOf('acme 2023-07-01.csv', csvOf(range(1, 5))));
    expect(plain.status).toBe('rejected');
    expect(plain.errors[0]!.message).toMatch(/^the file is not encrypted, but this tenant accepts only OpenPGP-encrypted files/);
    const encrypted = await gpg.encrypt(csvOf(range(1, 5)), { recipient: ours.fingerprint });
    const unset = await ingestFile(engine.ctx, tenantOf(), bytesFile('acme 2023-07-02.csv.pgp', encrypted));
    expect(unset.status).toBe('rejected');
    expect(unset.errors[0]!.message).toMatch(/tenant acme is not set up for encrypted files/);
    expect(await countRows(engine.db, 'members')).toBe(0);
  });

  it('with a signer key and required: false, a plain CSV is rejected too: it carries no signature', async () => {
    const tenant = pgpTenant({ required: false, signerPublicKeyFile: signerFile });
    const plain = await ingestFile(engine.ctx, tenant, fileOf('acme 2023-07-03.csv', csvOf(range(1, 5))));
    expect(plain.status).toBe('rejected');
    expect(plain.errors[0]!.message).toMatch(/^the file is not encrypted and signed, but this tenant accepts only files signed with its key/);
    const preview = await previewFile(engine.ctx, tenant, fileOf('acme 2023-07-04.csv', csvOf(range(1, 5))));
    expect(preview.status).toBe('rejected');
    expect(await countRows(engine.db, 'members')).toBe(0);
    // and `config check` says so
    expect(await checkTenantKeys(tenant.id, tenant.pgp!)).toMatch(/files must be signed by [0-9A-F]+; plain files rejected$/);
    expect(await checkTenantKeys(tenant.id, pgpTenant().pgp!)).toMatch(/; plain files accepted too$/);
  });

  it('preview reads an encrypted file the same way and stores nothing', async () => {
    const encrypted = await gpg.encrypt(csvOf(range(1, 7)), { recipient: ours.fingerprint, armor: true });
    const summary = await previewFile(engine.ctx, pgpTenant(), bytesFile('acme 2023-08-01.csv.asc', encrypted));
    expect(summary).toMatchObject({ status: 'accepted', rows: 7, counts: { invites: 7 }, encryption: { armored: true, keyId: ours.encryptionKeyId } });
    expect(await countRows(engine.db, 'runs')).toBe(0);
  });
});
