import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { enqueueAlert } from '../src/store/outbox.js';
import { cliSandbox, ensureBuilt, type CliSandbox } from './support/cli.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { startFakeSlack, type FakeSlack } from './support/fake-slack.js';

let slack: FakeSlack;
let sandbox: CliSandbox;

beforeAll(() => ensureBuilt(), 180_000);
beforeEach(async () => {
  slack = await startFakeSlack();
  sandbox = await cliSandbox();
  sandbox.env.SLACK_BOT_TOKEN = slack.token;
  sandbox.env.SLACK_API_URL = slack.url;
});
afterEach(async () => {
  await slack.close();
  await sandbox.dispose();
});

describe('hris-ingest notify test', () => {
  it('posts a test message to SLACK_CHANNEL (default #monitoring-hris-files) and exits 0', async () => {
    const result = await sandbox.run('notify', 'test');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('posted a test message to #monitoring-hris-files (C0HRISFILES) as @hris-bot in Fake Team');
    expect(slack.messages).toHaveLength(1);
    expect(slack.messages[0]!.text).toContain('hris-ingest test message');
    expect(slack.calls('auth.test')).toHaveLength(1);
  });

  it('--channel overrides the channel (id or name)', async () => {
    const result = await sandbox.run('notify', 'test', '--channel', 'C0CSMTEAM01');
    expect(result.code).toBe(0);
    expect(slack.messages[0]!.channel).toBe('C0CSMTEAM01');
    sandbox.env.SLACK_CHANNEL = '#csm-acme';
    expect((await sandbox.run('notify', 'test')).code).toBe(0);
    expect(slack.messages[1]!.channel).toBe('C0CSMTEAM01');
  });

  it('a wrong token: exit 1 with one clear line', async () => {
    sandbox.env.SLACK_BOT_TOKEN = 'xoxb-wrong';
    const result = await sandbox.run('notify', 'test');
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: Slack rejected the bot token \(invalid_auth\): set SLACK_BOT_TOKEN/);
    expect(slack.messages).toHaveLength(0);
  });

  it('a channel the bot is not in: exit 1, says to invite the bot', async () => {
    const result = await sandbox.run('notify', 'test', '--channel', '#general');
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      'error: the Slack bot is not a member of #general (not_in_channel): invite it by typing "/invite @hris-bot" in that channel',
    );
  });

  it('Slack unreachable: exit 1, names the URL', async () => {
    const url = slack.url;
    await slack.close();
    const result = await sandbox.run('notify', 'test');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`error: cannot reach Slack at ${url}`);
  });

  it('without a token: the test alert goes to the local alerts folder, exit 0', async () => {
    delete sandbox.env.SLACK_BOT_TOKEN;
    const result = await sandbox.run('notify', 'test');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Slack is not configured (SLACK_BOT_TOKEN is not set)');
    const alerts = path.join(sandbox.dir, 'data', 'alerts');
    const [folder] = await readdir(alerts);
    expect(folder).toMatch(/^test-\d{8}-\d{6}-\d{3}$/);
    expect(await readFile(path.join(alerts, folder!, 'message.txt'), 'utf8')).toContain('hris-ingest test message');
    expect(slack.requests).toHaveLength(0);
  });
});

describe('hris-ingest notify deliver', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await freshDatabase();
  });
  afterEach(async () => db.dispose());

  it('delivers the queued alerts once and reports the counts', async () => {
    await enqueueAlert(db.pool, { kind: 'drop_unreachable', payload: { drop: 'sftp.example.com:22', failures: 3, since: new Date().toISOString() } });
    sandbox.env.DATABASE_URL = db.url;
    const first = await sandbox.run('notify', 'deliver', '--json');
    expect(first.code).toBe(0);
    expect(first.json()).toEqual({ delivered: 1, failed: 0, failedPermanently: 0, skipped: 0, pending: 0 });
    const again = await sandbox.run('notify', 'deliver', '--json');
    expect(again.json()).toEqual({ delivered: 0, failed: 0, failedPermanently: 0, skipped: 0, pending: 0 });
    expect(slack.messages).toHaveLength(1);

    slack.fail({ status: 500 });
    await enqueueAlert(db.pool, { kind: 'drop_recovered', payload: { drop: 'sftp.example.com:22', failures: 3 } });
    const failed = await sandbox.run('notify', 'deliver', '--json');
    expect(failed.code).toBe(1);
    expect(failed.json()).toEqual({ delivered: 0, failed: 1, failedPermanently: 0, skipped: 0, pending: 1 });
  });
});

describe('hris-ingest notify retry, runs show, and ingest delivering its own alert', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let csvFile: string;
  beforeEach(async () => {
    db = await freshDatabase();
    sandbox.env.DATABASE_URL = db.url;
    await sandbox.writeTenant({ id: 'acme', name: 'Acme' });
    csvFile = path.join(sandbox.dir, 'acme - 01.13.2023.csv');
    const rows = Array.from({ length: 4 }, (_, i) => `F${i},L${i},m${i}@example.com,E${i},active,Paris`);
    await writeFile(csvFile, `${['First Name,Last Name,Email Address,Unique ID,Status,City', ...rows].join('\n')}\n`);
  });
  afterEach(async () => db.dispose());

  it('ingest with Slack configured posts its alert (and files) before it exits', async () => {
    const result = await sandbox.run('ingest', csvFile, '--tenant', 'acme', '--json');
    expect(result.code, result.stderr).toBe(0);
    const runId = result.json().runId as number;
    expect(slack.messages).toHaveLength(1);
    expect(slack.messages[0]!.text).toContain(`Run ${runId}.`);
    expect(slack.filesInThread(slack.messages[0]!.ts)).toHaveLength(3);
    expect(result.stderr).toMatch(/^alert \d+: posted to Slack$/m);
    const again = await sandbox.run('notify', 'deliver', '--json');
    expect(again.json()).toMatchObject({ delivered: 0, pending: 0 });
    expect(slack.messages).toHaveLength(1);
  });

  it('ingest while Slack is down: the run stands, its alert stays in the outbox and the CLI says so; notify deliver sends it', async () => {
    slack.fail({ status: 500 });
    const result = await sandbox.run('ingest', csvFile, '--tenant', 'acme', '--json');
    expect(result.code).toBe(0);
    expect(result.json().status).toBe('accepted');
    expect(result.stderr).toMatch(/^alert \d+: not delivered yet \(Slack answered HTTP 500; will retry\); it stays in the outbox: .*hris-ingest notify deliver$/m);
    slack.clearFailures();
    await db.pool.query('update outbox set next_attempt_at = now()');
    const deliver = await sandbox.run('notify', 'deliver', '--json');
    expect(deliver.json()).toMatchObject({ delivered: 1, pending: 0 });
    expect(slack.messages).toHaveLength(1);
  });

  it('a failed alert: ingest says so, runs show lists it with the retry command, notify retry sends it once fixed', async () => {
    const general = slack.channels.find((c) => c.name === 'general')!;
    await sandbox.writeTenant({ id: 'acme', name: 'Acme', slackChannel: '#general' }); // the bot is not in #general
    const ingest = await sandbox.run('ingest', csvFile, '--tenant', 'acme', '--json');
    expect(ingest.code).toBe(0);
    const runId = ingest.json().runId as number;
    const alertId = Number((await db.pool.query('select id from outbox where run_id = $1', [runId])).rows[0].id);
    expect(ingest.stderr).toContain(`alert ${alertId}: NOT delivered, failed for good: the Slack bot is not a member of #general (not_in_channel)`);
    expect(ingest.stderr).toContain(`hris-ingest notify retry ${alertId}`);

    const show = await sandbox.run('runs', 'show', String(runId));
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`^  alert ${alertId}: FAILED \\(not retried\\): the Slack bot is not a member of #general .*; once fixed: hris-ingest notify retry ${alertId}$`, 'm'));
    const json = (await sandbox.run('runs', 'show', String(runId), '--json')).json();
    expect(json.status).toBe('accepted');
    expect(json.alerts).toMatchObject([{ id: alertId, kind: 'run', state: 'failed' }]);

    // Nothing happens by itself; then the bot is invited and the alert is sent again.
    expect((await sandbox.run('notify', 'deliver', '--json')).json()).toMatchObject({ delivered: 0, failed: 0, pending: 1 });
    const stillFailed = await sandbox.run('notify', 'retry', String(alertId));
    expect(stillFailed.code).toBe(1);
    expect(stillFailed.stdout).toContain(`alert ${alertId} (run): failed: the Slack bot is not a member of #general`);
    general.isMember = true;
    const retry = await sandbox.run('notify', 'retry', '--all-failed');
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout.trim()).toBe(`alert ${alertId} (run): delivered`);
    expect(slack.messages.map((m) => m.channel)).toEqual(['C0GENERAL01']);
    expect((await sandbox.run('runs', 'show', String(runId))).stdout).toMatch(new RegExp(`^  alert ${alertId}: delivered at `, 'm'));

    expect((await sandbox.run('notify', 'retry', '--all-failed')).stdout.trim()).toBe('no failed alerts');
    const delivered = await sandbox.run('notify', 'retry', String(alertId));
    expect(delivered.code).toBe(1);
    expect(delivered.stderr).toContain(`alert ${alertId} was already delivered`);
    expect((await sandbox.run('notify', 'retry')).stderr).toContain('give one ALERT_ID or --all-failed');
  });
});
