import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appConfigSchema } from '../src/config/app.js';
import { tenantConfigSchema, type TenantConfig } from '../src/config/tenant.js';
import { isCandidateName } from '../src/drop/discovery.js';
import { pollOnce, type PollerContext } from '../src/drop/poller.js';
import { silentLogger } from '../src/log.js';
import { deliverPending } from '../src/notify/delivery.js';
import { pgpKeyMessage } from '../src/notify/pgp-message.js';
import { SlackNotifier } from '../src/notify/slack.js';
import { startFakeSlack } from './support/fake-slack.js';
import { membersCsv } from './drop.suite.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { encryptWithOpenpgp, GnuPG, gpgInstalled, GPG, tenantKeyFiles } from './support/gpg.js';
import { serviceMissing } from './support/services.js';
import { sftpBatch } from './support/sftp-cli.js';
import { SSHD_BINARY, sshdInstalled, startSshd, type SshdHandle } from './support/sshd.js';

const missing = !sshdInstalled()
  ? serviceMissing('sshd', `${SSHD_BINARY} (openssh-server) or the sftp client is not installed`)
  : !gpgInstalled() && serviceMissing('gpg', `${GPG} (GnuPG) is not installed`);
const PASSPHRASE_ENV = 'HRIS_TEST_PGP_DROP_PASSPHRASE';

describe('drop names', () => {
  it('takes OpenPGP files (.pgp, .gpg, .asc) beside .csv, still not in-progress names', () => {
    expect(['a.csv.pgp', 'A - 01.13.2023.csv.GPG', 'a.csv.asc', 'a.pgp'].every(isCandidateName)).toBe(true);
    expect(['a.csv.pgp.part', '.a.csv.pgp', 'a.pgp.tmp', 'a.sig'].some(isCandidateName)).toBe(false);
  });

  it('the key alert escapes what it quotes and says the file stays', () => {
    const message = pgpKeyMessage({ tenant: 'acme', file: 'a <b> & c.csv.pgp', error: 'tenant acme: the environment variable X is not set' });
    const body = JSON.stringify(message.blocks);
    expect(body).toContain('a &lt;b&gt; &amp; c.csv.pgp');
    expect(body).not.toContain('<b>');
    expect(message.text).toContain('stays in the inbox (not rejected)');
    expect(message.kind).toBe('pgp_key');
  });
});

describe.skipIf(missing)('encrypted files through the drop (OpenSSH sshd, sftp client, GnuPG)', () => {
  let sshd: SshdHandle;
  let keysDir: string;
  let gpg: GnuPG;
  let ours: Awaited<ReturnType<typeof tenantKeyFiles>>;
  let customer: { fingerprint: string; keyId: string };
  let db: TestDatabase;
  let work: string;
  let clock: Date;

  beforeAll(async () => {
    sshd = await startSshd();
    keysDir = await mkdtemp(path.join(os.tmpdir(), 'pgp-drop-keys-'));
    ours = await tenantKeyFiles(keysDir);
    gpg = await GnuPG.create();
    await gpg.importKey(ours.publicKey);
    const signer = await gpg.generateSigningKey('Customer HR <hr@customer.example>');
    customer = signer;
    await writeFile(path.join(keysDir, 'customer.asc'), signer.publicKey);
  });
  afterAll(async () => {
    await sshd?.stop();
    await gpg?.dispose();
    await rm(keysDir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    process.env[PASSPHRASE_ENV] = ours.passphrase;
    db = await freshDatabase();
    work = await mkdtemp(path.join(os.tmpdir(), 'pgp-drop-'));
    clock = new Date('2026-01-01T00:00:00Z');
    for (const entry of await readdir(sshd.root)) await rm(path.join(sshd.root, entry), { recursive: true, force: true });
  });
  afterEach(async () => {
    delete process.env[PASSPHRASE_ENV];
    await db?.dispose();
    await rm(work, { recursive: true, force: true });
  });

  const tenant = (): TenantConfig =>
    tenantConfigSchema.parse({
      id: 'acme',
      name: 'ACME',
      pgp: { privateKeyFile: ours.privateKeyFile, passphraseEnv: PASSPHRASE_ENV, required: true, signerPublicKeyFile: path.join(keysDir, 'customer.asc') },
    });
  const poller = (): PollerContext => ({
    db,
    app: appConfigSchema.parse({ dataDir: work, drop: { stableSeconds: 60 } }),
    tenants: new Map([['acme', tenant()]]),
    connection: { host: sshd.host, port: sshd.port, username: sshd.user, privateKey: Buffer.from(''), hostKeySha256: sshd.hostKeySha256, connectTimeoutMs: 5000, keepaliveIntervalMs: 2000 },
    outDir: path.join(work, 'out'),
    clock: () => clock,
  });
  /** Two ticks a minute apart: the first sees the file, the second takes it once stable. */
  const twoTicks = async (ctx: PollerContext) => {
    await pollOnce(ctx);
    clock = new Date(clock.getTime() + 61_000);
    return pollOnce(ctx);
  };
  const upload = async (name: string, bytes: Buffer) => {
    const local = path.join(work, 'upload.bin');
    await writeFile(local, bytes);
    await sftpBatch({ host: sshd.host, port: sshd.port, user: sshd.user, keyFile: sshd.clientKeyFile }, ['-mkdir /acme', '-mkdir /acme/inbox', `put "${local}" "/acme/inbox/${name}"`]);
  };
  const remote = async (dir: string) => (existsSync(path.join(sshd.root, dir)) ? (await readdir(path.join(sshd.root, dir))).sort() : []);
  const withKey = async (ctx: PollerContext) => ({ ...ctx, connection: { ...ctx.connection!, privateKey: await readFile(sshd.clientKeyFile) } });

  it('an encrypted, signed upload is accepted and archived like a plain file; the run records the key', async () => {
    const name = 'All Active Personnel - 01.13.2023.csv.pgp';
    await upload(name, await gpg.encrypt(membersCsv(1, 30), { recipient: ours.fingerprint, signer: customer.fingerprint, compress: 'zlib' }));
    const result = await twoTicks(await withKey(poller()));
    expect(result.files).toMatchObject([{ file: name, outcome: 'accepted', rows: 30, movedTo: `/acme/processed/${name}` }]);
    const runs = await db.pool.query('select status, file_date::text as file_date, encryption from runs');
    expect(runs.rows).toEqual([
      { status: 'accepted', file_date: '2023-01-13', encryption: { armored: false, recipients: [ours.encryptionKeyId], fingerprint: ours.fingerprint, keyId: ours.encryptionKeyId, signer: customer.keyId } },
    ]);
    expect(await remote('/acme/inbox')).toEqual([]);
  });

  it('a file encrypted to another key goes to rejected/ with an errors file naming both keys', async () => {
    const name = 'people - 01.14.2023.csv.gpg';
    const other = await openpgp.generateKey({ type: 'ecc', userIDs: [{ name: 'other' }], format: 'armored' });
    const otherId = (await (await openpgp.readKey({ armoredKey: other.publicKey })).getEncryptionKey()).getKeyID().toHex().toUpperCase();
    await upload(name, await encryptWithOpenpgp(membersCsv(1, 5), other.publicKey));
    const result = await twoTicks(await withKey(poller()));
    expect(result.files).toMatchObject([{ file: name, outcome: 'rejected', movedTo: `/acme/rejected/${name}` }]);
    expect(await remote('/acme/rejected')).toEqual([name, `${name}.errors.csv`]);
    const errors = await readFile(path.join(sshd.root, `/acme/rejected/${name}.errors.csv`), 'utf8');
    expect(errors).toContain(`encrypted to key ${otherId}, but this tenant's key is ${ours.encryptionKeyId}`);
    const alerts = await db.pool.query('select kind from outbox');
    expect(alerts.rows).toEqual([{ kind: 'run' }]);
  });

  it('a truncated upload is rejected; a plain CSV is rejected when encryption is required', async () => {
    const full = await gpg.encrypt(membersCsv(1, 2000), { recipient: ours.fingerprint, signer: customer.fingerprint, compress: 'none' });
    await upload('cut - 01.15.2023.csv.pgp', full.subarray(0, full.length - 100));
    await upload('plain - 01.16.2023.csv', Buffer.from(membersCsv(1, 5)));
    const result = await twoTicks(await withKey(poller()));
    expect(result.files.map((f) => [f.file, f.outcome])).toEqual([
      ['cut - 01.15.2023.csv.pgp', 'rejected'],
      ['plain - 01.16.2023.csv', 'rejected'],
    ]);
    const cut = await readFile(path.join(sshd.root, '/acme/rejected/cut - 01.15.2023.csv.pgp.errors.csv'), 'utf8');
    expect(cut).toContain('the encrypted file is incomplete');
    const plain = await readFile(path.join(sshd.root, '/acme/rejected/plain - 01.16.2023.csv.errors.csv'), 'utf8');
    expect(plain).toContain('this tenant accepts only OpenPGP-encrypted files');
    expect(await db.pool.query('select count(*)::int as n from members')).toMatchObject({ rows: [{ n: 0 }] });
  });

  it('a wrong passphrase on our side leaves the file in the inbox with one alert; fixed, the next tick takes it', async () => {
    const name = 'people - 01.17.2023.csv.pgp';
    await upload(name, await gpg.encrypt(membersCsv(1, 8), { recipient: ours.fingerprint, signer: customer.fingerprint }));
    process.env[PASSPHRASE_ENV] = 'wrong';
    const ctx = await withKey(poller());
    const first = await twoTicks(ctx);
    expect(first.files).toMatchObject([{ file: name, outcome: 'failed', error: expect.stringContaining(`the passphrase in ${PASSPHRASE_ENV} does not unlock`) }]);
    clock = new Date(clock.getTime() + 61_000);
    expect((await pollOnce(ctx)).files).toMatchObject([{ file: name, outcome: 'failed' }]);
    expect(await remote('/acme/inbox')).toEqual([name]);
    expect(await remote('/acme/rejected')).toEqual([]);
    const alerts = await db.pool.query('select kind, tenant_id, payload from outbox');
    expect(alerts.rows).toHaveLength(1);
    expect(alerts.rows[0]).toMatchObject({ kind: 'pgp_key', tenant_id: 'acme', payload: { file: name } });
    expect(await db.pool.query('select count(*)::int as n from runs')).toMatchObject({ rows: [{ n: 0 }] });
    // Delivered to Slack (the real client against the fake Web API) like any alert.
    const slack = await startFakeSlack();
    try {
      const notifier = new SlackNotifier({ token: slack.token, channel: '#monitoring-hris-files', apiUrl: slack.url, logger: silentLogger });
      expect(await deliverPending({ db, notifier, tenants: ctx.tenants, logger: silentLogger, workDir: work })).toMatchObject({ delivered: 1, failed: 0 });
      expect(slack.messages).toHaveLength(1);
      expect(slack.messages[0]!.text).toContain(`acme: encrypted file ${name} cannot be decrypted with our key: tenant acme: the passphrase in ${PASSPHRASE_ENV} does not unlock`);
    } finally {
      await slack.close();
    }

    process.env[PASSPHRASE_ENV] = ours.passphrase;
    clock = new Date(clock.getTime() + 61_000);
    expect((await pollOnce(ctx)).files).toMatchObject([{ file: name, outcome: 'accepted', rows: 8 }]);
  });
});
