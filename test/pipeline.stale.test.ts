import { Writable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { deliverPending } from '../src/notify/delivery.js';
import { SlackNotifier } from '../src/notify/slack.js';
import { approveRun, importBaseline, ingestFile, rejectRun } from '../src/pipeline.js';
import { loadRunSummary } from '../src/store/runs.js';
import { toJsonSummary } from '../src/cli/summary.js';
import { csvOf, fileOf, membersOf, person, range, tenantOf, useEngine, type Person } from './pipeline.support.js';
import { startFakeSlack } from './support/fake-slack.js';

/**
 * Issue 10, defect 5: a February export uploaded after March's. January: members 1-40. March: member 5
 * deactivated, member 6 gone (deleted), member 41 joined. February (the January people, uploaded late)
 * would reactivate 5, invite 6 again and delete 41.
 */
const JANUARY = range(1, 40);
const MARCH: Person[] = [...range(1, 40).filter((p) => p.id !== 'E6').map((p) => (p.id === 'E5' ? { ...p, status: 'inactive' } : p)), person(41)];
const FEBRUARY = range(1, 40);

describe('stale files (issue 10 defect 5)', () => {
  const engine = useEngine();
  const tenant = tenantOf();
  const ingest = (name: string, people: Person[]) => ingestFile(engine.ctx, tenant, fileOf(name, csvOf(people)));

  async function marchState() {
    const members = await membersOf(engine.db);
    expect(members.get('E5')!.data.status).toBe('inactive');
    expect(members.get('E41')!.on_platform).toBe(true);
    expect(members.get('E6')?.on_platform ?? false).toBe(false);
    return members;
  }

  it('holds a file dated before the last accepted one, with both dates and its counts; the March state stays', async () => {
    expect((await ingest('acme - 01.15.2023.csv', JANUARY)).status).toBe('accepted');
    const march = await ingest('acme - 03.01.2023.csv', MARCH);
    expect(march).toMatchObject({ status: 'accepted', counts: { invites: 1, deactivations: 1, deletions: 1 } });
    const before = await marchState();

    const february = await ingest('acme - 02.01.2023.csv', FEBRUARY);
    expect(february.status).toBe('held');
    expect(february.counts).toMatchObject({ invites: 1, reactivations: 1, deletions: 1 });
    expect(february.reasons).toEqual([
      `the file is dated 2023-02-01, before the tenant's last accepted file (run ${march.runId}, dated 2023-03-01): diffed against the newer state, ` +
        'it would invite 1, update 1 (0 deactivations, 1 reactivation) and delete 1; approve only if the date in its name is wrong (a misnamed file), otherwise reject it',
    ]);
    // nobody reactivated, deleted or invited again
    expect(await membersOf(engine.db)).toEqual(before);
    expect((await rejectRun(engine.ctx, february.runId!, 'ops', 'late February export')).status).toBe('rejected');
    expect(await membersOf(engine.db)).toEqual(before);
  });

  it('the same date is not older; a misnamed file can be approved', async () => {
    await ingest('acme - 03.01.2023.csv', JANUARY);
    const sameDay = await ingest('acme - 03.01.2023 second.csv', MARCH);
    expect(sameDay).toMatchObject({ status: 'accepted', reasons: [] });
    const misnamed = await ingest('acme - 01.03.2023.csv', [...MARCH, person(42)]);
    expect(misnamed.status).toBe('held');
    expect(misnamed.reasons[0]).toMatch(/^the file is dated 2023-01-03, before .* dated 2023-03-01\): .* it would invite 1, update 0 .* delete 0;/);
    expect((await approveRun(engine.ctx, new Map(), misnamed.runId!, 'ops')).status).toBe('accepted');
    expect((await membersOf(engine.db)).get('E42')!.on_platform).toBe(true);
  });

  it('a held run made moot by a later accepted run is superseded: shown, not decidable, its thread told, its content may come again', async () => {
    await ingest('acme - 01.15.2023.csv', JANUARY);
    const march = await ingest('acme - 03.01.2023.csv', MARCH);
    const february = await ingest('acme - 02.01.2023.csv', FEBRUARY);
    expect(february.status).toBe('held');
    const april = await ingest('acme - 04.01.2023.csv', [...MARCH, person(43)]);
    expect(april.status).toBe('accepted');

    const shown = await loadRunSummary(engine.db.pool, february.runId!);
    expect(shown).toMatchObject({ status: 'held', supersededBy: april.runId });
    expect(toJsonSummary(shown)).toMatchObject({ status: 'held', supersededBy: april.runId });
    expect(toJsonSummary(await loadRunSummary(engine.db.pool, march.runId!)).supersededBy).toBeNull();
    await expect(approveRun(engine.ctx, new Map(), february.runId!, 'ops')).rejects.toThrow(
      `run ${february.runId} cannot be approved: it is superseded by run ${april.runId}, accepted after it was held.`,
    );
    await expect(rejectRun(engine.ctx, february.runId!, 'ops')).rejects.toThrow(/cannot be rejected: it is superseded by run/);
    const alerts = await engine.db.pool.query('select kind, payload from outbox where run_id = $1 order by id', [february.runId]);
    expect(alerts.rows).toEqual([
      { kind: 'run', payload: { status: 'held' } },
      { kind: 'run_superseded', payload: { status: 'held', supersededBy: april.runId } },
    ]);
    // the same content again is diffed against April's state (held again as stale), not a duplicate of the superseded run
    const again = await ingest('acme - 02.01.2023.csv', FEBRUARY);
    expect(again.status).toBe('held');
    expect(again.reasons[0]).toContain(`(run ${april.runId}, dated 2023-04-01)`);
  });

  it('an approval and a baseline supersede the held runs too', async () => {
    await ingest('acme - 01.15.2023.csv', range(1, 30));
    const first = await ingest('acme - 01.16.2023.csv', range(1, 2)); // mass deletion: held
    const second = await ingest('acme - 01.10.2023.csv', range(1, 31)); // stale: held
    expect([first.status, second.status]).toEqual(['held', 'held']);
    await approveRun(engine.ctx, new Map(), first.runId!, 'ops');
    expect((await loadRunSummary(engine.db.pool, second.runId!)).supersededBy).toBe(first.runId);
    const third = await ingest('acme - 01.01.2023.csv', range(1, 3)); // stale again: held
    expect(third.status).toBe('held');
    const baseline = await importBaseline(engine.ctx, tenant, fileOf('platform export.csv', csvOf(range(1, 3))));
    expect((await loadRunSummary(engine.db.pool, third.runId!)).supersededBy).toBe(baseline.runId);
  });

  it('a file name without a date, or with one that is not MM.DD.YYYY, says so in the warnings and the alert', async () => {
    const none = await ingest('acme export.csv', range(1, 3));
    expect(none.status).toBe('accepted');
    expect(none.warnings).toEqual([expect.stringMatching(/^the file name has no date \(MM\.DD\.YYYY\): the processing date is used instead/)]);
    const wrong = await ingest('acme - 13.01.2023.csv', range(1, 4));
    expect(wrong.warnings).toEqual([expect.stringMatching(/^the date 13\.01\.2023 in the file name is not a valid MM\.DD\.YYYY date: /)]);
    const dated = await ingest('acme - 01.13.2023.csv', range(1, 5));
    expect(dated.warnings).toEqual([]);

    const slack = await startFakeSlack();
    const work = await mkdtemp(path.join(os.tmpdir(), 'stale-alert-'));
    try {
      const logger = createLogger({ level: 'silent', format: 'json', destination: new Writable({ write: (_c, _e, done) => done() }) });
      const notifier = new SlackNotifier({ token: slack.token, channel: '#monitoring-hris-files', apiUrl: slack.url, logger });
      await deliverPending({ db: engine.db, notifier, tenants: new Map([['acme', tenant]]), logger, workDir: work });
      const texts = slack.messages.filter((m) => !m.threadTs).map((m) => JSON.stringify(m.blocks));
      expect(texts).toHaveLength(3);
      expect(texts[0]).toContain('the file name has no date (MM.DD.YYYY)');
      expect(texts[1]).toContain('the date 13.01.2023 in the file name is not a valid MM.DD.YYYY date');
      expect(texts[2]).not.toContain('MM.DD.YYYY');
    } finally {
      await slack.close();
      await rm(work, { recursive: true, force: true });
    }
  });

  it("the superseded alert is a reply in the held run's Slack thread", async () => {
    await ingest('acme - 01.15.2023.csv', JANUARY);
    await ingest('acme - 03.01.2023.csv', MARCH);
    const february = await ingest('acme - 02.01.2023.csv', FEBRUARY);
    const slack = await startFakeSlack();
    const work = await mkdtemp(path.join(os.tmpdir(), 'stale-alert-'));
    try {
      const logger = createLogger({ level: 'silent', format: 'json', destination: new Writable({ write: (_c, _e, done) => done() }) });
      const notifier = new SlackNotifier({ token: slack.token, channel: '#monitoring-hris-files', apiUrl: slack.url, logger });
      const context = { db: engine.db, notifier, tenants: new Map([['acme', tenant]]), logger, workDir: work };
      await deliverPending(context);
      const heldTs = (await engine.db.pool.query("select message_ts from outbox where run_id = $1 and kind = 'run'", [february.runId])).rows[0]?.message_ts;
      const heldPost = slack.messages.find((m) => !m.threadTs && m.ts === heldTs);
      expect(heldPost, 'the held alert').toBeDefined();
      const april = await ingest('acme - 04.01.2023.csv', [...MARCH, person(43)]);
      await deliverPending(context);
      const replies = slack.messages.filter((m) => m.threadTs === heldPost!.ts && !('files' in m));
      expect(replies.map((m) => m.text)).toEqual([
        `acme: held run ${february.runId} (acme - 02.01.2023.csv) is superseded by run ${april.runId}, accepted since: nothing to decide any more, its changes will not be applied.`,
      ]);
      expect(replies[0]!.channel).toBe(heldPost!.channel);
    } finally {
      await slack.close();
      await rm(work, { recursive: true, force: true });
    }
  });
});
