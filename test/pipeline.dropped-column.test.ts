import { describe, expect, it } from 'vitest';
import { droppedColumnReasons } from '../src/diff/guardrails.js';
import { SHOWN } from '../src/notify/messages.js';
import { approveRun, ingestFile, previewFile } from '../src/pipeline.js';
import { csvOf, fileOf, HEADER, membersOf, person, range, tenantOf, useEngine, type Person } from './pipeline.support.js';

/**
 * A file without a status (or program_eligibility) column: a missing column counts as active / eligible
 * (DESIGN.md), so stored members whose stored row says inactive (ineligible) would all be invited. Held when
 * it would invite any of them. In January member 3 is inactive and member 4 ineligible.
 */
const JANUARY: Person[] = range(1, 10).map((p) => (p.id === 'E3' ? { ...p, status: 'inactive' } : p.id === 'E4' ? { ...p, eligibility: 'ineligible' } : p));
const WITHOUT_STATUS = HEADER.filter((h) => h !== 'Status');
const WITHOUT_BOTH = WITHOUT_STATUS.filter((h) => h !== 'Program Eligibility');
const APPROVE_IF = 'approve only if the customer left the column out on purpose';
const NO_STATUS = (n: string) => `no status column (a missing one counts as active): it would invite ${n} whose stored status is inactive; ${APPROVE_IF}`;
const NO_ELIGIBILITY = (n: string) =>
  `no program_eligibility column (a missing one counts as eligible): it would invite ${n} whose stored program_eligibility is ineligible; ${APPROVE_IF}`;

describe('a dropped status or eligibility column', () => {
  const engine = useEngine();
  const ingest = (name: string, people: Person[], header = HEADER, tenant = tenantOf()) => ingestFile(engine.ctx, tenant, fileOf(name, csvOf(people, header)));

  it('holds a file that would invite the members the column kept out, says which and how many; nothing moves until approved', async () => {
    const january = await ingest('acme - 01.13.2023.csv', JANUARY);
    expect(january.counts).toMatchObject({ invites: 8, notInvitable: 2 });
    const before = await membersOf(engine.db);

    const february = await ingest('acme - 02.13.2023.csv', [...JANUARY, person(11)], WITHOUT_STATUS);
    expect(february.status).toBe('held');
    expect(february.counts).toMatchObject({ invites: 2, deletions: 0 });
    expect(february.reasons).toEqual([NO_STATUS('1 stored member')]);
    expect(await membersOf(engine.db)).toEqual(before);

    await approveRun(engine.ctx, new Map(), february.runId!, 'ops');
    const after = await membersOf(engine.db);
    expect(after.get('E3')!.on_platform).toBe(true);
    expect(after.get('E4')!.on_platform).toBe(false);

    // February (accepted) had no status column either: only eligibility is left out now, member 4's
    const march = await ingest('acme - 03.13.2023.csv', [...JANUARY, person(11)], WITHOUT_BOTH);
    expect(march.status).toBe('held');
    expect(march.reasons).toEqual([NO_ELIGIBILITY('1 stored member')]);
  });

  it('both columns: both counted; new members only, or a member kept out by the other column, hold nothing', async () => {
    const people = [...JANUARY, person(12, { status: 'inactive' })];
    await ingest('acme - 01.13.2023.csv', people);
    const both = await ingest('acme - 02.13.2023.csv', people, WITHOUT_BOTH);
    expect(both.status).toBe('held');
    expect(both.reasons).toEqual([NO_STATUS('2 stored members'), NO_ELIGIBILITY('1 stored member')]);

    // Without inactive members stored, leaving out the status column invites only the new member.
    const beta = tenantOf({ id: 'beta', name: 'Beta' });
    await ingest('beta - 01.13.2023.csv', range(1, 5), HEADER, beta);
    expect(await ingest('beta - 02.13.2023.csv', range(1, 6), WITHOUT_STATUS, beta)).toMatchObject({ status: 'accepted', reasons: [], counts: { invites: 1 } });
    // Member 4 was ineligible, not inactive: now eligible, its invite is the file's word, whatever the status column.
    const gamma = tenantOf({ id: 'gamma', name: 'Gamma' });
    await ingest('gamma - 01.13.2023.csv', range(1, 5).map((p) => (p.id === 'E4' ? { ...p, eligibility: 'ineligible' } : p)), HEADER, gamma);
    expect(await ingest('gamma - 02.13.2023.csv', range(1, 5), WITHOUT_STATUS, gamma)).toMatchObject({ status: 'accepted', reasons: [], counts: { invites: 1 } });
  });

  it('counts from the stored rows: a member carried forward through the first file without the column is held for when it comes back', async () => {
    const tenant = tenantOf({ invalidRows: 'skip' });
    await ingest('acme - 01.13.2023.csv', JANUARY, HEADER, tenant);
    // February leaves out the status column, and member 3's row is invalid: carried forward, nobody kept out is invited
    const february = await ingest('acme - 02.13.2023.csv', JANUARY.map((p) => (p.id === 'E3' ? { ...p, email: 'not-an-email' } : p)), WITHOUT_STATUS, tenant);
    expect(february).toMatchObject({ status: 'accepted', reasons: [] });
    const march = await ingest('acme - 03.13.2023.csv', JANUARY, WITHOUT_STATUS, tenant);
    expect(march.status).toBe('held');
    expect(march.reasons).toEqual([NO_STATUS('1 stored member')]);
  });

  it('preview --against says the same, with and without a database', async () => {
    const previous = () => fileOf('acme - 01.13.2023.csv', csvOf(JANUARY));
    const next = () => fileOf('acme - 02.13.2023.csv', csvOf(JANUARY, WITHOUT_BOTH));
    for (const ctx of [engine.ctx, {}]) {
      const summary = await previewFile(ctx, tenantOf(), next(), { against: previous() });
      expect(summary.status).toBe('held');
      expect(summary.reasons).toEqual([NO_STATUS('1 stored member'), NO_ELIGIBILITY('1 stored member')]);
    }
  });

  it('each reason fits whole in an alert (Slack shows a reason up to its limit), one per column', () => {
    const reasons = droppedColumnReasons({ inactive: 1_234_567, ineligible: 7_654_321 });
    expect(reasons).toHaveLength(2);
    for (const reason of reasons) expect(reason.length).toBeLessThanOrEqual(SHOWN.reason);
    expect(droppedColumnReasons({ inactive: 0, ineligible: 0 })).toEqual([]);
  });
});
