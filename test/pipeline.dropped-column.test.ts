import { describe, expect, it } from 'vitest';
import { approveRun, ingestFile, previewFile } from '../src/pipeline.js';
import { csvOf, fileOf, HEADER, membersOf, person, range, tenantOf, useEngine, type Person } from './pipeline.support.js';

/**
 * A file without the status (or program_eligibility) column the last accepted file had: a missing column
 * counts as active / eligible (DESIGN.md), so stored members earlier files kept from an invite would all be
 * invited. Held when it would invite any of them. Member 3 is inactive and member 4 ineligible in January.
 */
const JANUARY: Person[] = [...range(1, 10).map((p) => (p.id === 'E3' ? { ...p, status: 'inactive' } : p.id === 'E4' ? { ...p, eligibility: 'ineligible' } : p))];
const WITHOUT_STATUS = HEADER.filter((h) => h !== 'Status');
const WITHOUT_BOTH = WITHOUT_STATUS.filter((h) => h !== 'Program Eligibility');

describe('a dropped status or eligibility column', () => {
  const engine = useEngine();
  const tenant = tenantOf();
  const ingest = (name: string, people: Person[], header = HEADER) => ingestFile(engine.ctx, tenant, fileOf(name, csvOf(people, header)));

  it('holds a file that would invite the members the column kept out, names the column and the count; nothing moves until approved; a column the last file lacked is not named', async () => {
    const january = await ingest('acme - 01.13.2023.csv', JANUARY);
    expect(january.counts).toMatchObject({ invites: 8, notInvitable: 2 });
    const before = await membersOf(engine.db);

    const february = await ingest('acme - 02.13.2023.csv', [...JANUARY, person(11)], WITHOUT_STATUS);
    expect(february.status).toBe('held');
    expect(february.counts).toMatchObject({ invites: 2, deletions: 0 });
    expect(february.reasons).toEqual([
      `the file has no status column, which the tenant's last accepted file (run ${january.runId}) had: a missing column counts as active, ` +
        "so it would invite 1 stored member that earlier files kept from an invite (inactive); approve only if the customer dropped the column " +
        'on purpose, otherwise reject it and ask for a file with the column',
    ]);
    expect(await membersOf(engine.db)).toEqual(before);

    await approveRun(engine.ctx, new Map(), february.runId!, 'ops');
    const after = await membersOf(engine.db);
    expect(after.get('E3')!.on_platform).toBe(true);
    expect(after.get('E4')!.on_platform).toBe(false);

    // February (accepted) had no status column: only the eligibility column is dropped now.
    const march = await ingest('acme - 03.13.2023.csv', [...JANUARY, person(11)], WITHOUT_BOTH);
    expect(march.status).toBe('held');
    expect(march.reasons).toEqual([
      `the file has no program_eligibility column, which the tenant's last accepted file (run ${february.runId}) had: a missing column ` +
        "counts as eligible, so it would invite 1 stored member that earlier files kept from an invite (ineligible); approve only if the " +
        'customer dropped the column on purpose, otherwise reject it and ask for a file with the column',
    ]);
  });

  it('both columns: both named; a file that only invites new members is not held', async () => {
    const january = await ingest('acme - 01.13.2023.csv', JANUARY);
    const both = await ingest('acme - 02.13.2023.csv', JANUARY, WITHOUT_BOTH);
    expect(both.status).toBe('held');
    expect(both.reasons[0]).toMatch(
      new RegExp(
        `^the file has no status or program_eligibility column, which the tenant's last accepted file \\(run ${january.runId}\\) had: ` +
          'a missing column counts as active and eligible, so it would invite 2 stored members that earlier files kept from an invite \\(inactive or ineligible\\);',
      ),
    );

    // Without inactive or ineligible members stored, dropping the column invites only the new member.
    const other = tenantOf({ id: 'beta', name: 'Beta' });
    await ingestFile(engine.ctx, other, fileOf('beta - 01.13.2023.csv', csvOf(range(1, 5))));
    const dropped = await ingestFile(engine.ctx, other, fileOf('beta - 02.13.2023.csv', csvOf(range(1, 6), WITHOUT_STATUS)));
    expect(dropped).toMatchObject({ status: 'accepted', reasons: [], counts: { invites: 1 } });
  });

  it('preview --against says the same, with and without a database', async () => {
    const previous = () => fileOf('acme - 01.13.2023.csv', csvOf(JANUARY));
    const next = () => fileOf('acme - 02.13.2023.csv', csvOf(JANUARY, WITHOUT_STATUS));
    const expected =
      "the file has no status column, which the tenant's last accepted file had: a missing column counts as active, so it would invite " +
      '1 stored member that earlier files kept from an invite (inactive); approve only if the customer dropped the column on purpose, ' +
      'otherwise reject it and ask for a file with the column';
    for (const ctx of [engine.ctx, {}]) {
      const summary = await previewFile(ctx, tenant, next(), { against: previous() });
      expect(summary.status).toBe('held');
      expect(summary.reasons).toEqual([expected]);
    }
  });
});
