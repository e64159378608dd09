import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliSandbox, ensureBuilt, type CliSandbox } from './support/cli.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { startFakeSlack, type FakeSlack } from './support/fake-slack.js';
import { serviceMissing } from './support/services.js';
import { keygen, sshdInstalled, startSshd, type SshdHandle } from './support/sshd.js';
import { passwordPostgresUnavailable, startPasswordPostgres } from './support/password-postgres.js';
import { execFileSync } from 'node:child_process';

function lines(stdout: string): string[] {
  return stdout.trimEnd().split('\n');
}
function failures(stdout: string): string[] {
  return lines(stdout).filter((line) => / FAIL: /.test(line));
}

describe('hris-ingest config check', () => {
  let db: TestDatabase;
  let slack: FakeSlack;
  let sshd: SshdHandle | undefined;
  let sandbox: CliSandbox;
  let keys: string;
  const skipSsh = !sshdInstalled() && serviceMissing('sshd', 'OpenSSH sshd/sftp/ssh-keygen not installed');

  beforeAll(async () => {
    ensureBuilt();
    db = await freshDatabase();
    slack = await startFakeSlack();
    if (!skipSsh) sshd = await startSshd();
    keys = await mkdtemp(path.join(tmpdir(), 'hris-check-keys-'));
    sandbox = await cliSandbox({ databaseUrl: db.url, repoTenants: ['example'] });
  });
  afterAll(async () => {
    await sandbox?.dispose();
    await sshd?.stop();
    await slack?.close();
    await db?.dispose();
    await rm(keys, { recursive: true, force: true });
  });

  /** Database and Slack that answer; no drop (checked only with DROP_HOST set). */
  function envWithoutDrop(): NodeJS.ProcessEnv {
    return { ...sandbox.env, DATABASE_URL: db.url, SLACK_BOT_TOKEN: slack.token, SLACK_API_URL: slack.url };
  }

  /** Every dependency answers: needs the test sshd. */
  function goodEnv(): NodeJS.ProcessEnv {
    return {
      ...envWithoutDrop(),
      DROP_HOST: sshd!.host,
      DROP_PORT: String(sshd!.port),
      DROP_USER: sshd!.user,
      DROP_PRIVATE_KEY_FILE: sshd!.clientKeyFile,
      DROP_HOST_KEY_SHA256: sshd!.hostKeySha256,
    };
  }

  async function check(env: NodeJS.ProcessEnv) {
    const { runCli } = await import('./support/cli.js');
    return runCli(['config', 'check'], { cwd: sandbox.dir, env });
  }

  it.skipIf(skipSsh)('reports every dependency ok and exits 0 when all answer', async () => {
    const result = await check(goodEnv());
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const out = lines(result.stdout);
    expect(out).toContainEqual(expect.stringMatching(/^app config: ok /));
    expect(out).toContainEqual(expect.stringMatching(/^tenant example: ok /));
    expect(out).toContainEqual(expect.stringMatching(/^database: ok \(PostgreSQL \d+.* migrations (up to date|applied now)/));
    expect(out).toContainEqual(expect.stringMatching(new RegExp(`^drop: ok \\(logged in as root@127\\.0\\.0\\.1:${sshd!.port}, host key ${sshd!.hostKeySha256.replace(/[+/]/g, '\\$&')} matches`)));
    expect(out).toContainEqual(expect.stringMatching(/^slack: ok \(auth\.test: bot "hris-bot" in team "Fake Team"\)$/));
    expect(out).toContainEqual('slack channel #monitoring-hris-files: ok (channel id C0HRISFILES)');
    expect(out[out.length - 1]).toBe('config check passed');
    expect(slack.calls('auth.test')).not.toHaveLength(0);
  });

  it.skipIf(skipSsh)('a private key the server does not accept is one clear line, exit 1', async () => {
    const otherKey = path.join(keys, 'not_authorised');
    await keygen(otherKey);
    const result = await check({ ...goodEnv(), DROP_PRIVATE_KEY_FILE: otherKey });
    expect(result.code).toBe(1);
    expect(failures(result.stdout)).toEqual([
      expect.stringMatching(/^drop: FAIL: login refused: 127\.0\.0\.1:\d+ did not accept user "root" with the configured private key/),
    ]);
    expect(result.stdout).not.toContain('BEGIN OPENSSH');
  });

  it.skipIf(skipSsh)('a host key other than the pinned one is one clear line naming both fingerprints, exit 1', async () => {
    const pinned = await keygen(path.join(keys, 'some_other_host'));
    const result = await check({ ...goodEnv(), DROP_HOST_KEY_SHA256: pinned });
    expect(result.code).toBe(1);
    const failed = failures(result.stdout);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toContain(`drop: FAIL: host key mismatch at 127.0.0.1:${sshd!.port}: the server presented ${sshd!.hostKeySha256}, but ${pinned} is pinned`);
  });

  it.skipIf(skipSsh)('a bad Slack token is one clear line, exit 1', async () => {
    const result = await check({ ...goodEnv(), SLACK_BOT_TOKEN: 'xoxb-wrong' });
    expect(result.code).toBe(1);
    expect(failures(result.stdout)).toEqual([expect.stringMatching(/^slack: FAIL: Slack rejected the bot token \(invalid_auth\): set SLACK_BOT_TOKEN/)]);
    expect(result.stdout).not.toContain('xoxb-wrong');
  });

  it.skipIf(skipSsh)('a wrong passphrase of the private key is one clear line, exit 1', async () => {
    const encrypted = path.join(keys, 'encrypted_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'the-right-one', '-f', encrypted]);
    const result = await check({ ...goodEnv(), DROP_PRIVATE_KEY_FILE: encrypted, DROP_PASSPHRASE: 'not-the-passphrase' });
    expect(result.code).toBe(1);
    expect(failures(result.stdout)).toEqual(['drop: FAIL: the private key passphrase is wrong: check DROP_PASSPHRASE']);
    expect(result.stdout).not.toContain('not-the-passphrase');
  });

  const pgUnavailable = passwordPostgresUnavailable();
  const skipPasswordPg = pgUnavailable !== undefined && serviceMissing('password-protected PostgreSQL', pgUnavailable);
  it.skipIf(skipPasswordPg)('a wrong database password is one clear line, exit 1, and the password is not printed', async () => {
    const server = await startPasswordPostgres();
    try {
      // Without a drop (DROP_HOST unset it is skipped), so this runs where sshd is not installed.
      const right = await check({ ...envWithoutDrop(), DATABASE_URL: server.url });
      expect(right.code, right.stdout).toBe(0);
      expect(lines(right.stdout)).toContainEqual(expect.stringMatching(/^drop: skipped /));
      const wrongUrl = server.url.replace(server.password, 'wrong-password');
      const wrong = await check({ ...envWithoutDrop(), DATABASE_URL: wrongUrl });
      expect(wrong.code).toBe(1);
      const failed = failures(wrong.stdout);
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatch(/^database: FAIL: cannot connect to .* \(DATABASE_URL\): password authentication failed \(check the user and password in DATABASE_URL\)$/);
      expect(wrong.stdout + wrong.stderr).not.toContain('wrong-password');
    } finally {
      await server.stop();
    }
  });

  it('names the file, path and fix of invalid configuration, and an unreachable database', async () => {
    const broken = await cliSandbox({ repoTenants: ['example'] });
    try {
      await writeFile(path.join(broken.configDir, 'tenants', 'acme.yaml'), 'id: acme\nname: Acme\nkey: member_number\n');
      await writeFile(path.join(broken.configDir, 'app.yaml'), 'schedule:\n  cron: "*/5 * * * *"\n');
      const result = await runCheck(broken, { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
      expect(result.code).toBe(1);
      const failed = failures(result.stdout);
      expect(failed).toEqual([
        expect.stringMatching(/^tenant acme: FAIL: .*tenants\/acme\.yaml: key: /),
        'database: FAIL: cannot connect to postgres://postgres@127.0.0.1:1/none (DATABASE_URL): connection refused (is PostgreSQL running on that host and port?)',
      ]);
      expect(lines(result.stdout)).toContain('tenant example: ok (' + path.join(broken.configDir, 'tenants', 'example.yaml') + ' (inbox /example/inbox))');
      expect(lines(result.stdout)).toContainEqual(expect.stringMatching(/^drop: skipped \(no DROP_HOST/));
      expect(lines(result.stdout)).toContainEqual(expect.stringMatching(/^slack: skipped \(no SLACK_BOT_TOKEN/));

      await writeFile(path.join(broken.configDir, 'app.yaml'), 'http:\n  port: 99999\nunknownSetting: 1\n');
      const bad = await runCheck(broken, {});
      expect(bad.code).toBe(1);
      const appLine = failures(bad.stdout).find((line) => line.startsWith('app config: FAIL: '));
      expect(appLine).toMatch(/app\.yaml \(or its environment variables\): .*http\.port: /);
      expect(appLine).toMatch(/unknownSetting/);
      expect(lines(bad.stdout)).toContainEqual(expect.stringMatching(/^database, drop, slack: skipped \(not tried: fix the app config first\)/));

      // a time zone or a poller cron that `start` would refuse (the late-file watch failed quietly on each tick)
      await writeFile(path.join(broken.configDir, 'app.yaml'), 'schedule:\n  cron: "*/5 * * * *"\n');
      const zone = await runCheck(broken, { SCHEDULE_TIMEZONE: 'America/New York', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
      expect(zone.code).toBe(1);
      expect(failures(zone.stdout)[0]).toMatch(/^app config: FAIL: .*schedule\.timezone: "America\/New York" is not a time zone; use an IANA name/);
      const cron = await runCheck(broken, { SCHEDULE_CRON: '61 * * * *', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
      expect(cron.code).toBe(1);
      expect(failures(cron.stdout)[0]).toMatch(/^app config: FAIL: schedule\.cron "61 \* \* \* \*" is not a valid cron expression/);

      // a file that is not a mapping, or a section that is not, with an environment override set
      await writeFile(path.join(broken.configDir, 'app.yaml'), 'just text\n');
      const text = await runCheck(broken, { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
      expect(failures(text.stdout)[0]).toMatch(/^app config: FAIL: .*app\.yaml: .*expected a mapping of settings \(key: value lines\), got a string/);
      await writeFile(path.join(broken.configDir, 'app.yaml'), 'drop: 5\n');
      const section = await runCheck(broken, { DROP_PORT: '2801' });
      expect(failures(section.stdout)[0]).toMatch(/^app config: FAIL: .*app\.yaml: drop: expected a mapping of settings \(DROP_PORT sets drop\.port\), got a number/);
      expect(section.stdout).not.toContain('Cannot create property');
    } finally {
      await broken.dispose();
    }
  });

  it('a broken tenant file, a second file of one tenant and a shared inbox fail the check; other commands leave only those tenants out', async () => {
    const mixed = await cliSandbox({ repoTenants: ['example'] });
    try {
      const tenants = path.join(mixed.configDir, 'tenants');
      await writeFile(path.join(tenants, 'acme.yaml'), 'id: acme\nname: Acme\nkey: member_number\n');
      await writeFile(path.join(tenants, 'gamma.yaml'), 'id: gamma\nname: Gamma\n');
      await writeFile(path.join(tenants, 'gamma.yml'), 'id: gamma\nname: Gamma (old copy)\n');
      await writeFile(path.join(tenants, 'delta.yaml'), 'id: delta\nname: Delta\n');
      await writeFile(path.join(tenants, 'omega.yaml'), 'id: omega\nname: Omega\ndrop:\n  inbox: /delta/inbox\n');
      await writeFile(path.join(tenants, 'typo.yaml'), 'id: typo\nname: Typo\ncolumns:\n  Email Address: emale\n  Region: region\ncustomSegments: [region]\n');
      const check = await runCheck(mixed, {});
      expect(check.code).toBe(1);
      const failed = failures(check.stdout).filter((line) => line.startsWith('tenant '));
      expect(failed).toEqual([
        expect.stringMatching(/^tenant acme: FAIL: .*tenants\/acme\.yaml: key: /),
        expect.stringMatching(/^tenant delta: FAIL: .*share the inbox \/delta\/inbox/),
        'tenant gamma: FAIL: ' + path.join(tenants, 'gamma.yaml') + ': gamma.yaml and gamma.yml are both tenant "gamma": remove the one not meant',
        'tenant gamma: FAIL: ' + path.join(tenants, 'gamma.yml') + ': gamma.yaml and gamma.yml are both tenant "gamma": remove the one not meant',
        expect.stringMatching(/^tenant omega: FAIL: .*tenants delta and omega share the inbox \/delta\/inbox/),
        // a mapping to no field of the spec and no declared custom segment: a typo that would reject every file
        'tenant typo: FAIL: ' + path.join(tenants, 'typo.yaml') + ': columns: "Email Address" -> "emale": neither a field of the spec nor a declared custom segment (a typo? files would read it as a custom segment); fix the field name, or add it to customSegments',
      ]);
      expect(lines(check.stdout)).toContain('tenant example: ok (' + path.join(tenants, 'example.yaml') + ' (inbox /example/inbox))');

      // one broken file stopped every command (start and poll --once with them): now only its tenant is out
      const { runCli } = await import('./support/cli.js');
      const sample = path.resolve('fixtures', '10KC Membership File - Your Organization Name - All Active Personnel - 01.13.2023.csv');
      const preview = await runCli(['preview', sample, '--tenant', 'example', '--json'], { cwd: mixed.dir, env: mixed.env });
      expect(preview.code, preview.stderr).toBe(0);
      expect(preview.json().status).toBe('accepted');
      expect(preview.stderr).toContain('warning: tenants/acme.yaml is not used');
      expect(preview.stderr).toContain('warning: tenants/gamma.yml is not used');
      const refused = await runCli(['preview', sample, '--tenant', 'acme'], { cwd: mixed.dir, env: mixed.env });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/tenant "acme" is not usable: .*acme\.yaml: key: /);
    } finally {
      await mixed.dispose();
    }
  });
});

async function runCheck(sandbox: CliSandbox, extra: NodeJS.ProcessEnv) {
  const { runCli } = await import('./support/cli.js');
  return runCli(['config', 'check'], { cwd: sandbox.dir, env: { ...sandbox.env, ...extra } });
}
