import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { appConfigSchema } from '../src/config/app.js';
import { devDropPaths, generateParsableKeyPair } from '../src/drop/dev-keys.js';
import { startConfiguredDevDrop, startDevDrop } from '../src/drop/dev-server.js';
import { membersCsv } from './drop.suite.js';
import { cliSandbox, ensureBuilt, type CliSandbox } from './support/cli.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { startFakeSlack } from './support/fake-slack.js';
import { serviceMissing } from './support/services.js';
import { sftpBatch } from './support/sftp-cli.js';
import { SSHD_BINARY, sshdInstalled, startSshd, type SshdHandle } from './support/sshd.js';

const skip = !sshdInstalled() && serviceMissing('sshd', `${SSHD_BINARY} (openssh-server) or the sftp client is not installed`);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function sandboxWithDb(): Promise<{ sandbox: CliSandbox; db: TestDatabase }> {
  const db = await freshDatabase();
  cleanups.push(() => db.dispose());
  const sandbox = await cliSandbox({ tenants: [{ id: 'acme', name: 'Acme' }], databaseUrl: db.url });
  cleanups.push(() => sandbox.dispose());
  // Taken at the second tick (two observations), without waiting a minute.
  await writeFile(path.join(sandbox.configDir, 'app.yaml'), 'drop:\n  stableSeconds: 0\n');
  return { sandbox, db };
}

describe.skipIf(skip)('hris-ingest poll --once', { timeout: 120_000 }, () => {
  let sshd: SshdHandle;
  beforeAll(async () => {
    ensureBuilt();
    sshd = await startSshd();
  }, 180_000);
  afterAll(async () => {
    await sshd?.stop();
  });

  const uploadAs = async (sandbox: CliSandbox, name: string, content: string) => {
    const local = path.join(sandbox.dir, 'upload.csv');
    await writeFile(local, content);
    await sftpBatch({ host: sshd.host, port: sshd.port, user: sshd.user, keyFile: sshd.clientKeyFile }, [
      '-mkdir /acme',
      '-mkdir /acme/inbox',
      `put ${local} "/acme/inbox/${name}"`,
    ]);
  };

  const pointAtSshd = (sandbox: CliSandbox, overrides: Record<string, string> = {}) => {
    Object.assign(sandbox.env, {
      DROP_HOST: sshd.host,
      DROP_PORT: String(sshd.port),
      DROP_USER: sshd.user,
      DROP_PRIVATE_KEY_FILE: sshd.clientKeyFile,
      DROP_HOST_KEY_SHA256: sshd.hostKeySha256,
      ...overrides,
    });
  };

  it('runs one tick per call and exits 0: the upload is ingested at the tick after it is stable', async () => {
    const { sandbox, db } = await sandboxWithDb();
    pointAtSshd(sandbox);
    const name = 'All Active Personnel - 01.13.2023.csv';
    await uploadAs(sandbox, name, membersCsv(1, 12));

    const first = await sandbox.run('poll', '--once', '--json');
    expect(first.code, first.stderr).toBe(0);
    expect(first.json()).toMatchObject({ reachable: true, files: [{ tenant: 'acme', file: name, outcome: 'waiting' }] });

    const second = await sandbox.run('poll', '--once', '--json');
    expect(second.code, second.stderr).toBe(0);
    expect(second.json()).toMatchObject({ reachable: true, files: [{ file: name, outcome: 'accepted', movedTo: `/acme/processed/${name}` }] });
    const runs = await db.pool.query('select status, source, rows from runs');
    expect(runs.rows).toEqual([{ status: 'accepted', source: 'drop', rows: 12 }]);
    // The human output names the outcome; nothing left to do.
    const third = await sandbox.run('poll', '--once');
    expect(third.code).toBe(0);
    expect(third.stdout).toContain('nothing to do');
    expect(second.stdout + second.stderr).not.toMatch(/PRIVATE KEY|m1@example\.com/);
  });

  it('with Slack configured, delivers the alerts queued before it exits; Slack down: the tick still exits 0, the alert stays queued', async () => {
    const { sandbox, db } = await sandboxWithDb();
    pointAtSshd(sandbox);
    const slack = await startFakeSlack();
    cleanups.push(() => slack.close());
    Object.assign(sandbox.env, { SLACK_BOT_TOKEN: slack.token, SLACK_API_URL: slack.url });
    const name = 'All Active Personnel - 01.13.2023.csv';
    await uploadAs(sandbox, name, membersCsv(1, 12));

    const observed = await sandbox.run('poll', '--once', '--json');
    expect(observed.code, observed.stderr).toBe(0);
    expect(observed.json().alerts).toMatchObject({ delivered: 0, failed: 0, pending: 0 });
    expect(slack.messages).toHaveLength(0);
    const taken = await sandbox.run('poll', '--once', '--json');
    expect(taken.code, taken.stderr).toBe(0);
    const runId = (await db.pool.query('select id from runs')).rows[0].id as number;
    expect(taken.json()).toMatchObject({ files: [{ outcome: 'accepted', runId: Number(runId) }], alerts: { delivered: 1, failed: 0, pending: 0 } });
    expect(slack.messages).toHaveLength(1);
    expect(slack.messages[0]!.text).toContain(`Run ${runId}.`);
    expect(slack.filesInThread(slack.messages[0]!.ts)).toHaveLength(3);
    const delivered = await db.pool.query('select delivered_at is not null as done from outbox where run_id = $1', [runId]);
    expect(delivered.rows).toEqual([{ done: true }]);

    // Slack down: the next file's tick exits 0 all the same; its alert waits in the outbox.
    slack.fail({ status: 500 });
    const next = 'All Active Personnel - 01.14.2023.csv';
    await uploadAs(sandbox, next, membersCsv(1, 13));
    await sandbox.run('poll', '--once');
    const down = await sandbox.run('poll', '--once');
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain(`${next}  accepted`);
    expect(down.stdout).toMatch(/^alerts: delivered 0, skipped 0, failed 1; 1 pending$/m);
    expect(slack.messages).toHaveLength(1);
  });

  it('exits 1 when the drop is unreachable, and when its host key is not the pinned one', async () => {
    const { sandbox } = await sandboxWithDb();
    pointAtSshd(sandbox, { DROP_PORT: '1' });
    const down = await sandbox.run('poll', '--once');
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/not reachable/);

    const wrong = `SHA256:${'C'.repeat(43)}`;
    pointAtSshd(sandbox, { DROP_HOST_KEY_SHA256: wrong });
    const refused = await sandbox.run('poll', '--once', '--json');
    expect(refused.code).toBe(1);
    expect(refused.json()).toMatchObject({ reachable: false });
    expect(refused.json().error).toContain(sshd.hostKeySha256);
  });

  it('refuses to connect when no host key is pinned', async () => {
    const { sandbox } = await sandboxWithDb();
    pointAtSshd(sandbox);
    delete sandbox.env.DROP_HOST_KEY_SHA256;
    const result = await sandbox.run('poll', '--once');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(sshd.hostKeySha256);
    expect(result.stderr).toMatch(/no fingerprint is pinned/);
  });

  it('without DROP_HOST polls the development drop, pinning its generated host key', async () => {
    const { sandbox, db } = await sandboxWithDb();
    const app = appConfigSchema.parse({ dataDir: path.join(sandbox.dir, 'data'), drop: { port: 0 } });
    const dev = await startConfiguredDevDrop(app);
    cleanups.push(() => dev.stop());
    sandbox.env.DROP_PORT = String(dev.port);
    const inbox = path.join(sandbox.dir, 'data', 'drop', 'acme', 'inbox');
    await mkdir(inbox, { recursive: true });
    await writeFile(path.join(inbox, 'people 2023-01-01.csv'), membersCsv(1, 4));
    expect((await sandbox.run('poll', '--once')).code).toBe(0);
    const taken = await sandbox.run('poll', '--once', '--json');
    expect(taken.code, taken.stderr).toBe(0);
    expect(taken.json()).toMatchObject({ files: [{ outcome: 'accepted', movedTo: '/acme/processed/people 2023-01-01.csv' }] });
    expect((await db.pool.query('select count(*)::int as n from runs')).rows[0].n).toBe(1);

    // The same drop folder and users served under another host key: the pin refuses it.
    await dev.stop();
    const impostor = await startDevDrop({ ...devDropPaths(app), port: 0, host: '127.0.0.1', hostKey: generateParsableKeyPair('impostor').private });
    cleanups.push(() => impostor.stop());
    sandbox.env.DROP_PORT = String(impostor.port);
    const refused = await sandbox.run('poll', '--once', '--json');
    expect(refused.code).toBe(1);
    expect(refused.json()).toMatchObject({ reachable: false });
    expect(refused.json().error).toContain(impostor.hostKeySha256);
  });
});
