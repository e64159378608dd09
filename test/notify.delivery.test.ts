import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tenantConfigSchema, type TenantConfig } from '../src/config/tenant.js';
import { createLogger, type Logger } from '../src/log.js';
import { backoffDelay, deliverPending, startDeliveryLoop, type DeliveryContext } from '../src/notify/delivery.js';
import { enqueueAlert } from '../src/store/outbox.js';
import { requeueAlerts } from '../src/notify/status.js';
import type { AlertMessage, Notifier } from '../src/notify/notifier.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { SlackNotifier } from '../src/notify/slack.js';
import { renderRunFilesWith } from '../src/output/render.js';
import { approveRun, ingestFile, rejectRun, type FileInput } from '../src/pipeline.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { startFakeSlack, type FakeSlack } from './support/fake-slack.js';

interface Member {
  n: number;
  status?: 'active' | 'inactive';
  email?: string;
  city?: string;
}

const HEADER = 'First Name,Last Name,Email Address,Unique ID,Status,City';
const emailOf = (n: number) => `member.${n}@example.com`;

function csv(members: Member[]): string {
  const lines = members.map((m) => [`First${m.n}`, `Last${m.n}`, m.email ?? emailOf(m.n), `E${m.n}`, m.status ?? 'active', m.city ?? 'Paris'].join(','));
  return `${[HEADER, ...lines].join('\n')}\n`;
}
const range = (from: number, to: number): Member[] => Array.from({ length: to - from + 1 }, (_, i) => ({ n: from + i }));
const file = (name: string, text: string): FileInput => ({ name, open: () => Readable.from([Buffer.from(text, 'utf8')]) });
const tenant = (overrides: Record<string, unknown> = {}): TenantConfig => tenantConfigSchema.parse({ id: 'acme', name: 'Acme', ...overrides });

/** A simulated clock: the outbox's times come from it, so an outage of minutes needs no waiting. */
function simulatedClock() {
  let now = Date.now() + 1000;
  return { now: () => new Date(now), advance: (ms: number) => (now += ms), ms: () => now };
}

/** Every log line as text (pino JSON), for the personal-data check. */
function capturedLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', format: 'json', destination }), lines };
}

let db: TestDatabase;
let slack: FakeSlack;
let work: string;
let log: ReturnType<typeof capturedLogger>;
let fileNo = 0;

beforeEach(async () => {
  fileNo = 0;
  db = await freshDatabase();
  slack = await startFakeSlack();
  work = await mkdtemp(path.join(os.tmpdir(), 'notify-delivery-'));
  log = capturedLogger();
});
afterEach(async () => {
  await slack.close();
  await db.dispose();
  await rm(work, { recursive: true, force: true });
});

function context(overrides: Partial<DeliveryContext> = {}): DeliveryContext {
  return {
    db,
    notifier: new SlackNotifier({ token: slack.token, channel: '#monitoring-hris-files', apiUrl: slack.url, logger: log.logger }),
    tenants: new Map([['acme', tenant()]]),
    dashboardUrl: 'https://hris.example.com',
    logger: log.logger,
    workDir: work,
    ...overrides,
  };
}

async function ingest(members: Member[], t = tenant()) {
  fileNo++;
  return ingestFile({ db, logger: log.logger }, t, file(`acme - ${String(fileNo).padStart(2, '0')}.13.2023.csv`, csv(members)));
}

async function outbox() {
  return (
    await db.pool.query<{ id: number; run_id: number | null; attempts: number; delivered_at: Date | null; delivery_ref: string | null; message_ts: string | null; last_error: string | null; next_attempt_at: Date; last_attempt_at: Date | null }>(
      'select id::int as id, run_id::int as run_id, attempts, delivered_at, delivery_ref, message_ts, last_error, next_attempt_at, last_attempt_at from outbox order by id',
    )
  ).rows;
}

/** Successful posts per run id (the message text ends with "Run N." or "Run N (...)"). */
function postsPerRun(): Map<number, number> {
  const counts = new Map<number, number>();
  for (const message of slack.messages) {
    const id = Number(/Run (\d+)/.exec(message.text)?.[1]);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

function expectNoMemberData(lines: string[]) {
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    expect(line).not.toMatch(/@example\.com/);
    expect(line).not.toMatch(/First\d+|Last\d+/);
  }
}

describe('outbox delivery to Slack (real ingests, real WebClient, fake Slack)', () => {
  it('accepted run: the summary counts equal the run, the three files are the run files byte for byte, in the thread', async () => {
    await ingest(range(1, 40));
    const second = await ingest([
      ...range(1, 38).map((m) => (m.n === 5 ? { ...m, status: 'inactive' as const } : m.n === 6 ? { ...m, city: 'Lyon' } : m)),
      { n: 41 },
      { n: 42 },
    ]);
    expect(second.status).toBe('accepted');
    const report = await deliverPending(context());
    expect(report).toEqual({ delivered: 2, failed: 0, failedPermanently: 0, skipped: 0 });

    const rows = await outbox();
    expect(rows.every((r) => r.delivered_at !== null)).toBe(true);
    const message = slack.messages.find((m) => m.text.includes(`Run ${second.runId}.`))!;
    expect(rows.find((r) => r.run_id === second.runId)!.delivery_ref).toBe(message.ts);

    const stored = (await db.pool.query('select counts, rows from runs where id = $1', [second.runId])).rows[0];
    const c = stored.counts;
    expect([c.invites, c.updates, c.deactivations, c.reactivations, c.deletions]).toEqual([2, 2, 1, 0, 2]);
    expect(message.text).toContain(`${stored.rows} rows: ${c.invites} invites, ${c.updates} updates (${c.deactivations} deactivation, 0 reactivations), ${c.deletions} deletions`);
    const blocks = JSON.stringify(message.blocks);
    for (const [label, value] of Object.entries({ Invites: c.invites, Updates: c.updates, Deactivations: c.deactivations, Reactivations: c.reactivations, Deletions: c.deletions })) {
      expect(blocks).toContain(`*${label}:* ${value}`);
    }
    expect(blocks).toContain(`https://hris.example.com/runs/${second.runId}`);

    const expectedDir = path.join(work, 'expected');
    const client = await db.pool.connect();
    const expected = await renderRunFilesWith(client, second.runId!, expectedDir).finally(() => client.release());
    const uploaded = slack.filesInThread(message.ts);
    expect(uploaded.map((f) => f.title).sort()).toEqual(
      ['acme 2023-02-13 potential invites.csv', 'acme 2023-02-13 profile deletions.csv', 'acme 2023-02-13 profile updates.csv'],
    );
    for (const kind of ['invites', 'updates', 'deletions'] as const) {
      const local = expected[kind]!;
      const sent = uploaded.find((f) => f.title === path.basename(local.path))!;
      expect(sent.bytes!.equals(await readFile(local.path))).toBe(true);
    }
    // The deletions file carries the two deleted members: real content went up.
    expect(uploaded.find((f) => f.title!.includes('deletions'))!.bytes!.toString()).toContain(emailOf(39));
    // Temp folders are removed after the upload.
    expect((await readdir(work)).filter((n) => n.startsWith('hris-alert-'))).toEqual([]);
    expectNoMemberData(log.lines);
  });

  it('rejected run: error count, first errors without values, validation errors.csv attached; no email in any log line', async () => {
    const run = await ingest([...range(1, 3), { n: 4, email: 'not-an-email.example.com' }, { n: 5, email: emailOf(1) }]);
    expect(run.status).toBe('rejected');
    await deliverPending(context());
    const [message] = slack.messages;
    expect(message!.text).toContain(`${run.errorCount} error`);
    const blocks = JSON.stringify(message!.blocks);
    expect(blocks).toContain('line 5');
    expect(blocks).not.toContain('not-an-email.example.com');
    expect(blocks).not.toContain('@example.com');
    const files = slack.filesInThread(message!.ts);
    expect(files.map((f) => f.title)).toEqual(['acme 2023-01-13 validation errors.csv']);
    expect(files[0]!.bytes!.toString()).toContain('not-an-email.example.com'); // the values are in the file, only there
    expectNoMemberData(log.lines);
  });

  it('held run: the alert says why and how to approve; after approval the accepted alert follows with the files', async () => {
    await ingest(range(1, 100));
    const held = await ingest(range(1, 60));
    expect(held.status).toBe('held');
    await approveRun({ db }, new Map(), held.runId!, 'ops');
    await deliverPending(context());
    const forHeld = slack.messages.filter((m) => m.text.includes(`Run ${held.runId}`) || m.text.includes(`runs approve ${held.runId}`));
    expect(forHeld.map((m) => m.text.split(':')[1]!.trim().split(' ')[0])).toEqual(['held', 'accepted']);
    expect(forHeld[0]!.text).toContain('would delete 40 of 100 members');
    expect(forHeld[0]!.text).toContain(`hris-ingest runs approve ${held.runId}`);
    expect(slack.filesInThread(forHeld[0]!.ts)).toHaveLength(0);
    expect(slack.filesInThread(forHeld[1]!.ts)).toHaveLength(3);
    expect(forHeld[1]!.text).toContain('approved by ops');
  });

  it('held, then rejected by an operator: the second alert says who rejected it, with no files', async () => {
    await ingest(range(1, 100));
    const held = await ingest(range(1, 60));
    await rejectRun({ db }, held.runId!, 'ops', 'wrong export');
    await deliverPending(context());
    const last = slack.messages.at(-1)!;
    expect(last.text).toBe(`acme: held file acme - 02.13.2023.csv rejected by ops: wrong export; nothing applied. Run ${held.runId}.`);
    expect(slack.filesInThread(last.ts)).toHaveLength(0);
    expect(slack.messages.at(-2)!.text).toContain(`runs approve ${held.runId}`);
  });

  it('duplicate: a note, or nothing when the tenant turned it off; a tenant channel override is used', async () => {
    const quiet = tenant({ notifyDuplicates: false, slackChannel: '#csm-acme' });
    await ingest(range(1, 5), quiet);
    fileNo--; // same name, same content
    const duplicate = await ingest(range(1, 5), quiet);
    expect(duplicate.status).toBe('duplicate');
    const report = await deliverPending(context({ tenants: new Map([['acme', quiet]]) }));
    expect(report).toEqual({ delivered: 1, failed: 0, failedPermanently: 0, skipped: 1 });
    expect(slack.messages).toHaveLength(1);
    expect(slack.messages[0]!.channel).toBe('C0CSMTEAM01');
    expect((await outbox())[1]!.delivery_ref).toContain('skipped');

    fileNo--;
    const noted = await ingest(range(1, 5));
    await deliverPending(context());
    expect(slack.messages.at(-1)!.text).toBe(`acme: acme - 01.13.2023.csv is the same content as run 1; nothing to do. Run ${noted.runId}.`);
  });

  it('a Slack outage of several minutes (500s, then 429s): every alert delivered exactly once, Retry-After honoured', async () => {
    const clock = simulatedClock();
    const outageEnds = clock.ms() + 6 * 60_000;
    const rateLimitEnds = outageEnds + 60_000;
    for (let i = 0; i < 4; i++) await ingest(range(1, 10 + i));
    slack.fail({ methods: ['chat.postMessage', 'files.getUploadURLExternal', 'upload', 'files.completeUploadExternal'], status: 500, while: () => clock.ms() < outageEnds });
    slack.fail({ status: 429, retryAfter: 30, while: () => clock.ms() >= outageEnds && clock.ms() < rateLimitEnds });
    const ctx = context({ now: clock.now, backoff: { baseMs: 2_000, capMs: 60_000, jitter: 0.25 } });

    let passes = 0;
    let sawRetryAfter = false;
    while ((await outbox()).some((r) => r.delivered_at === null)) {
      if (++passes > 2000) throw new Error('not delivered');
      await deliverPending(ctx);
      for (const row of await outbox()) {
        if (row.last_error?.includes('rate limit') && row.delivered_at === null) {
          sawRetryAfter = true;
          expect(row.next_attempt_at.getTime() - row.last_attempt_at!.getTime()).toBe(30_000);
        }
      }
      clock.advance(1_000);
    }
    expect(clock.ms()).toBeGreaterThan(rateLimitEnds);
    expect(sawRetryAfter).toBe(true);
    const rows = await outbox();
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.attempts > 2)).toBe(true);
    const perRun = postsPerRun();
    expect([...perRun.values()]).toEqual([1, 1, 1, 1]);
    expect([...perRun.keys()].sort()).toEqual(rows.map((r) => r.run_id).sort());
    for (const row of rows) expect(slack.filesInThread(row.delivery_ref!)).toHaveLength(3);
    // The failures were real: Slack saw failed posts.
    expect(slack.calls('chat.postMessage').filter((r) => r.status !== 200).length).toBeGreaterThan(4);
    expectNoMemberData(log.lines);
  });

  it('a failed upload after the post is retried as an upload only: the message is never posted twice', async () => {
    const clock = simulatedClock();
    const run = await ingest(range(1, 10));
    slack.fail({ methods: ['upload'], status: 500, times: 3 });
    const ctx = context({ now: clock.now, backoff: { baseMs: 1_000, capMs: 10_000, jitter: 0 } });
    for (let i = 0; i < 60 && (await outbox())[0]!.delivered_at === null; i++) {
      await deliverPending(ctx);
      clock.advance(1_000);
    }
    const [row] = await outbox();
    expect(row!.delivered_at).not.toBeNull();
    expect(row!.attempts).toBe(4);
    expect(slack.calls('chat.postMessage')).toHaveLength(1);
    expect(slack.calls('upload').filter((r) => r.status === 500)).toHaveLength(3);
    expect(slack.filesInThread(row!.message_ts!)).toHaveLength(3);
    expect(postsPerRun().get(run.runId!)).toBe(1);
  });

  it('survives a restart: a crashed worker’s claim is taken over after the lease, once', async () => {
    const clock = simulatedClock();
    await ingest(range(1, 3));
    // A worker claimed the alert (lease 10 min) and died.
    await db.pool.query(`update outbox set locked_until = $1::timestamptz + interval '10 minutes', attempts = 1`, [clock.now().toISOString()]);
    const ctx = context({ now: clock.now });
    expect(await deliverPending(ctx)).toEqual({ delivered: 0, failed: 0, failedPermanently: 0, skipped: 0 });
    clock.advance(10 * 60_000 + 1);
    expect(await deliverPending(ctx)).toEqual({ delivered: 1, failed: 0, failedPermanently: 0, skipped: 0 });
    expect(await deliverPending(ctx)).toEqual({ delivered: 0, failed: 0, failedPermanently: 0, skipped: 0 });
    expect(slack.messages).toHaveLength(1);
  });

  it('invalid_auth and not_in_channel fail for good: a clear error, logged once at error level, sent again by requeueAlerts once fixed', async () => {
    const clock = simulatedClock();
    await ingest(range(1, 3));
    const badToken = context({ now: clock.now, notifier: new SlackNotifier({ token: 'xoxb-bad', channel: '#monitoring-hris-files', apiUrl: slack.url, logger: log.logger }) });
    expect(await deliverPending(badToken)).toEqual({ delivered: 0, failed: 1, failedPermanently: 1, skipped: 0 });
    expect((await outbox())[0]!.last_error).toContain('SLACK_BOT_TOKEN');
    // Not retried: hours later, nothing is claimed and nothing more is logged.
    clock.advance(60 * 60_000);
    expect(await deliverPending(badToken)).toEqual({ delivered: 0, failed: 0, failedPermanently: 0, skipped: 0 });
    expect(slack.requests.filter((r) => r.error === 'invalid_auth')).toHaveLength(1);
    expect(log.lines.filter((l) => l.includes('"level":50') && l.includes('SLACK_BOT_TOKEN'))).toHaveLength(1);

    expect(await requeueAlerts(db.pool, { allFailed: true })).toEqual([(await outbox())[0]!.id]);
    const notMember = context({ now: clock.now, notifier: new SlackNotifier({ token: slack.token, channel: '#general', apiUrl: slack.url, logger: log.logger }) });
    expect(await deliverPending(notMember)).toEqual({ delivered: 0, failed: 1, failedPermanently: 1, skipped: 0 });
    expect((await outbox())[0]!.last_error).toContain('/invite @hris-bot');

    slack.channels.find((c) => c.name === 'general')!.isMember = true; // someone invited the bot
    clock.advance(60 * 60_000);
    expect(await deliverPending(notMember)).toEqual({ delivered: 0, failed: 0, failedPermanently: 0, skipped: 0 });
    await requeueAlerts(db.pool, { allFailed: true });
    expect(await deliverPending(notMember)).toEqual({ delivered: 1, failed: 0, failedPermanently: 0, skipped: 0 });
  });

  it('a run purged by retention before delivery: the message goes out, saying the files are gone', async () => {
    const run = await ingest(range(1, 5));
    await db.pool.query('update runs set purged_at = now() where id = $1', [run.runId]);
    await db.pool.query('delete from run_changes where run_id = $1', [run.runId]);
    expect(await deliverPending(context())).toEqual({ delivered: 1, failed: 0, failedPermanently: 0, skipped: 0 });
    expect(JSON.stringify(slack.messages[0]!.blocks)).toContain('The files are no longer available');
    expect(JSON.stringify(slack.messages[0]!.blocks)).not.toContain('files for the platform are in the thread'); // said before, contradicting it
    expect(slack.calls('files.getUploadURLExternal')).toHaveLength(0);
  });

  it('a batch slower than its lease: each alert is renewed before it is sent, so a second worker taking the rest posts none twice', async () => {
    for (let i = 1; i <= 4; i++) await enqueueAlert(db.pool, { kind: 'drop_unreachable', payload: { drop: `drop-${i}.example.com:2022`, failures: 3 } });
    const real = context().notifier;
    // Slack answering each post in 0.6 s, with a lease of 1.5 s for the whole batch
    const slow = { name: real.name, post: async (m: AlertMessage) => (await sleep(600), real.post(m)), attach: real.attach.bind(real), send: real.send.bind(real) } as Notifier;
    const first = deliverPending(context({ notifier: slow, leaseMs: 1500 }));
    await sleep(1700); // the first worker's claim on alert 4 has run out; alerts 2 and 3 were renewed at 0.6 and 1.2 s
    const second = await deliverPending(context({ notifier: slow, leaseMs: 1500 }));
    const one = await first;
    expect(one.delivered + second.delivered).toBe(4);
    const posts = slack.messages.map((m) => /drop-(\d)\.example\.com/.exec(m.text)![1]).sort();
    expect(posts).toEqual(['1', '2', '3', '4']);
    expect((await outbox()).every((r) => r.delivered_at !== null)).toBe(true);
  });

  it('drop unreachable / recovered alerts go to the default channel', async () => {
    await enqueueAlert(db.pool, { kind: 'drop_unreachable', payload: { drop: 'sftp.example.com:2022', failures: 3, since: new Date().toISOString(), error: 'ECONNREFUSED' } });
    await enqueueAlert(db.pool, { kind: 'drop_recovered', payload: { drop: 'sftp.example.com:2022', failures: 4, since: new Date().toISOString() } });
    await deliverPending(context());
    expect(slack.messages.map((m) => m.channel)).toEqual(['C0HRISFILES', 'C0HRISFILES']);
    expect(slack.messages[0]!.text).toContain('SFTP drop unreachable: sftp.example.com:2022 failed 3 ticks');
    expect(slack.messages[1]!.text).toContain('reachable again');
  });

  it("a file too large for the drop: its alert goes to the default channel, naming the tenant and the file", async () => {
    await enqueueAlert(db.pool, { kind: 'file_too_large', tenantId: 'acme', payload: { file: 'huge - 01.13.2023.csv', bytes: 5000, limit: 100, moved: true } });
    expect(await deliverPending(context())).toEqual({ delivered: 1, failed: 0, failedPermanently: 0, skipped: 0 });
    expect(slack.messages.map((m) => m.channel)).toEqual(['C0HRISFILES']);
    expect(slack.messages[0]!.text).toContain('acme: file huge - 01.13.2023.csv rejected unread');
    expect(slack.calls('files.getUploadURLExternal')).toHaveLength(0);
  });

  it('startDeliveryLoop delivers what is queued and stops cleanly', async () => {
    await ingest(range(1, 3));
    const loop = startDeliveryLoop(context(), { intervalMs: 50 });
    try {
      for (let i = 0; i < 200 && slack.messages.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await loop.stop();
    }
    expect(slack.messages).toHaveLength(1);
    expect((await outbox())[0]!.delivered_at).not.toBeNull();
  });

  it('a database that fails every pass is logged once, not every pass (then once a minute, with the count)', async () => {
    const gone = await freshDatabase();
    await gone.dispose(); // every query fails from now on
    const loop = startDeliveryLoop(context({ db: gone }), { intervalMs: 5 });
    try {
      await sleep(400);
    } finally {
      await loop.stop();
    }
    const failed = log.lines.map((l) => JSON.parse(l) as { msg: string; failedPasses?: number }).filter((l) => l.msg === 'alert delivery pass failed; will retry');
    expect(failed).toEqual([expect.objectContaining({ failedPasses: 1 })]);
  });

  it('stop() returns after the batch in hand while a backlog remains (a shutdown does not wait for the whole pass)', async () => {
    for (let i = 0; i < 30; i++) await enqueueAlert(db.pool, { kind: 'test' });
    let posts = 0;
    const slowSlack: Notifier = {
      name: 'slack',
      post: async () => {
        posts++;
        await new Promise((r) => setTimeout(r, 100));
        return { channel: 'C0HRISFILES', ts: String(posts) };
      },
      attach: async () => undefined,
      send: async () => ({ ref: '' }),
    };
    // One alert per batch: the pass would take 20 batches of 100 ms.
    const loop = startDeliveryLoop(context({ notifier: slowSlack, batchSize: 1 }), { intervalMs: 60_000 });
    while (posts === 0) await new Promise((r) => setTimeout(r, 5));
    await loop.stop();
    expect(posts).toBeLessThanOrEqual(2);
    expect((await outbox()).filter((row) => row.delivered_at === null).length).toBeGreaterThanOrEqual(28);
  });
});

describe('backoff', () => {
  it('grows exponentially to the cap, with jitter taken off', () => {
    const options = { baseMs: 1000, capMs: 60_000, jitter: 0.5 };
    expect([1, 2, 3, 4, 10].map((n) => backoffDelay(n, options, () => 0))).toEqual([1000, 2000, 4000, 8000, 60_000]);
    expect(backoffDelay(3, options, () => 1)).toBe(2000);
  });
});
