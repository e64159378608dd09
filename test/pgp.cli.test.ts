import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliSandbox, ensureBuilt, type CliSandbox } from './support/cli.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { GnuPG, gpgInstalled, GPG } from './support/gpg.js';
import { serviceMissing } from './support/services.js';
import { membersCsv } from './drop.suite.js';

const skip = !gpgInstalled() && serviceMissing('gpg', `${GPG} (GnuPG) is not installed`);

describe.skipIf(skip)('hris-ingest keys generate, config check, ingest and preview of encrypted files', () => {
  let db: TestDatabase;
  let sandbox: CliSandbox;
  let gpg: GnuPG;

  beforeAll(async () => {
    ensureBuilt();
    db = await freshDatabase();
    sandbox = await cliSandbox({ databaseUrl: db.url, tenants: [{ id: 'acme', name: 'Acme Corp' }] });
    gpg = await GnuPG.create();
  });
  afterAll(async () => {
    await gpg?.dispose();
    await sandbox?.dispose();
    await db?.dispose();
  });

  it('generates a key pair gpg can encrypt to; the printed config lines make config check, ingest and preview work', async () => {
    const made = await sandbox.run('keys', 'generate', '--tenant', 'acme');
    expect(made.code, made.stderr).toBe(0);
    // stdout is the public key and nothing else: what to send the customer.
    expect(made.stdout).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----\n[\s\S]*-----END PGP PUBLIC KEY BLOCK-----\n$/);
    const privateFile = path.join(sandbox.configDir, 'keys', 'acme.private.asc');
    expect((await stat(privateFile)).mode & 0o777).toBe(0o600);
    expect(made.stderr).toMatch(/RSA 4096, fingerprint [0-9A-F]{40}, files are encrypted to subkey [0-9A-F]{16}\./);
    const passphrase = /Passphrase: {2}(\S+)\n {13}store it now in your secret store as HRIS_PGP_PASSPHRASE_ACME/.exec(made.stderr)?.[1];
    expect(passphrase).toBeDefined();
    const config = made.stderr.slice(made.stderr.indexOf('pgp:\n'), made.stderr.indexOf('Then set'));
    expect(config).toContain('privateKeyFile: ../keys/acme.private.asc\n  passphraseEnv: HRIS_PGP_PASSPHRASE_ACME\n  required: false');

    const again = await sandbox.run('keys', 'generate', '--tenant', 'acme');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('exists: a new key would lock out files encrypted to the old one; pass --force');
    // --out naming the public key's own path would leave only the public key: refused
    const onPublic = await sandbox.run('keys', 'generate', '--tenant', 'other', '--out', path.join(sandbox.dir, 'k', 'other.public.asc'));
    expect(onPublic.code).toBe(1);
    expect(onPublic.stderr).toContain('is where the public key goes');
    // --force over a key file someone made readable: the new secret key is 600 again
    const loose = path.join(sandbox.dir, 'k', 'loose.private.asc');
    await mkdir(path.dirname(loose), { recursive: true });
    await writeFile(loose, 'old key', { mode: 0o644 });
    await chmod(loose, 0o644);
    const forced = await sandbox.run('keys', 'generate', '--tenant', 'loose', '--out', loose, '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect((await stat(loose)).mode & 0o777).toBe(0o600);

    // The tenant config, with the lines as printed.
    await writeFile(path.join(sandbox.configDir, 'tenants', 'acme.yaml'), `id: acme\nname: Acme Corp\n${config}`);
    const env = { ...sandbox.env, HRIS_PGP_PASSPHRASE_ACME: passphrase! };
    const { runCli } = await import('./support/cli.js');
    const checked = await runCli(['config', 'check'], { cwd: sandbox.dir, env });
    const fingerprint = /fingerprint ([0-9A-F]{40})/.exec(made.stderr)![1]!;
    expect(checked.stdout).toContain(`tenant acme pgp: ok (private key ${fingerprint} unlocked`);
    const wrong = await runCli(['config', 'check'], { cwd: sandbox.dir, env: { ...env, HRIS_PGP_PASSPHRASE_ACME: 'nope' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain(`tenant acme pgp: FAIL: tenant acme: the passphrase in HRIS_PGP_PASSPHRASE_ACME does not unlock the private key ${privateFile}`);

    // The customer imports the printed public key into gpg and encrypts the export to it.
    await gpg.importKey(made.stdout);
    const encrypted = await gpg.encrypt(membersCsv(1, 12), { recipient: fingerprint, armor: true });
    const file = path.join(sandbox.dir, 'Acme - 01.13.2023.csv.asc');
    await writeFile(file, encrypted);
    const previewed = await runCli(['preview', file, '--tenant', 'acme', '--json'], { cwd: sandbox.dir, env });
    expect(previewed.code, previewed.stderr).toBe(0);
    expect(JSON.parse(previewed.stdout.trim().split('\n').at(-1)!)).toMatchObject({ status: 'accepted', rows: 12, encryption: { armored: true, fingerprint } });
    const ingested = await runCli(['ingest', file, '--tenant', 'acme', '--json'], { cwd: sandbox.dir, env });
    expect(ingested.code, ingested.stderr).toBe(0);
    const summary = JSON.parse(ingested.stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ status: 'accepted', rows: 12, counts: { invites: 12 }, encryption: { fingerprint } });
    expect(summary.files.invites).toMatch(/acme 2023-01-13 potential invites\.csv$/);

    // Without the passphrase: exit 1 with what to fix, nothing stored.
    const locked = await runCli(['ingest', file, '--tenant', 'acme', '--json'], { cwd: sandbox.dir, env: sandbox.env });
    expect(locked.code).toBe(1);
    expect(locked.stderr).toContain('the environment variable HRIS_PGP_PASSPHRASE_ACME (pgp.passphraseEnv) is not set');
    expect((await db.pool.query('select count(*)::int as n from runs')).rows[0].n).toBe(1);
  });
});
