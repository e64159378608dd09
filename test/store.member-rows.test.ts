import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ingestFile, purgeOldRuns } from '../src/pipeline.js';
import type { Database } from '../src/store/db.js';
import { countRows, csvOf, fileOf, HEADER, membersOf, person, range, skipOnEmbedded, tenantOf, useEngine, type Person } from './pipeline.support.js';

/** Resolves once another session of DB's database waits for a lock (fails after 10 s). */
async function someoneWaitsForALock(db: Database): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const waiting = await db.pool.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
    );
    if (waiting.rows[0]!.n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('no session waited for a lock');
}

/**
 * A run's changes keep the rows of the members it changes when a change is the whole row (a first file, a
 * new member, a member whose row has no column the run lacks); member_rows takes a member's row only when
 * it must merge (a column the file no longer carries), when the run's changes are purged, or before a
 * re-key (src/store/member-rows.ts). What a run reads of the stored rows must be the same either way.
 */
describe('stored rows kept in a run\'s changes', () => {
  const engine = useEngine({ outDir: 'engine-member-rows-' });
  let day = 0;
  const ingest = (people: Person[], tenant = tenantOf()) =>
    ingestFile(engine.ctx, tenant, fileOf(`members - 01.${String(++day).padStart(2, '0')}.2023.csv`, csvOf(people)), { outDir: engine.out });
  const storedRows = () => countRows(engine.db, 'member_rows', "tenant_id = 'acme'");

  it('a later run merges, compares and deletes against them; retention moves them into member_rows first', async () => {
    const first = await ingest(range(1, 40));
    expect(first).toMatchObject({ status: 'accepted', counts: { invites: 40 } });
    expect(await storedRows()).toBe(0);
    const afterFirst = await membersOf(engine.db); // throws when a member has no row anywhere
    expect(afterFirst.get('E4')!.data).toMatchObject({ first_name: 'First4', city: 'Paris' });

    // member 2 moves, 4 leaves, 41 joins
    const second = await ingest([person(1), person(2, { city: 'Lyon' }), person(3), ...range(5, 41)]);
    expect(second).toMatchObject({ status: 'accepted', counts: { updates: 1, deletions: 1, invites: 1 } });
    // the deletion file carries the leaving member's stored row, read from the first run's changes
    expect(await readFile(second.files.deletions!, 'utf8')).toContain('First4,Last4,m4@example.com,E4');
    expect(await readFile(second.files.updates!, 'utf8')).toMatch(/First2,Last2,m2@example.com,E2,.*Lyon,update,city/);
    // the second run's changes are its members' whole rows (the same columns): nothing was merged
    expect(await storedRows()).toBe(0);
    const afterSecond = await membersOf(engine.db);
    expect(afterSecond.get('E2')!.data).toMatchObject({ city: 'Lyon', first_name: 'First2' });
    expect(afterSecond.has('E4')).toBe(false);

    await engine.db.pool.query(`update runs set created_at = now() - interval '100 days' where id = $1`, [first.runId]);
    expect(await purgeOldRuns(engine.db, 90)).toMatchObject({ runs: 1 });
    expect(await countRows(engine.db, 'run_changes', `run_id = ${first.runId}`)).toBe(0);
    // the 38 rows still in the first run's changes; members 2 and 41 are in the second run's
    expect(await storedRows()).toBe(38);
    expect(await membersOf(engine.db)).toEqual(afterSecond);

    // the next diff compares with the moved rows exactly as before
    const third = await ingest([person(1), person(2, { city: 'Lyon' }), person(3, { last: 'Other' }), ...range(5, 41)]);
    expect(third).toMatchObject({ status: 'accepted', counts: { updates: 1, deletions: 0, invites: 0 } });
    expect(await storedRows()).toBe(38);

    // A file without the City column: every stored row must keep the city the file no longer carries, so
    // the rows it writes are merged into member_rows; member 42's, new in it, is its change (no city to keep).
    const withoutCity = csvOf([person(1), person(2, { city: 'Lyon' }), person(3, { last: 'Third' }), ...range(5, 41), person(42)], HEADER.filter((h) => h !== 'City'));
    const fourth = await ingestFile(engine.ctx, tenantOf(), fileOf('members - 02.01.2023.csv', withoutCity), { outDir: engine.out });
    expect(fourth).toMatchObject({ status: 'accepted', counts: { updates: 1, invites: 1 } });
    const afterFourth = await membersOf(engine.db);
    expect(afterFourth.get('E3')!.data).toMatchObject({ last_name: 'Third', city: 'Paris' });
    expect(afterFourth.get('E42')!.data).toMatchObject({ first_name: 'First42' });
    expect(afterFourth.get('E42')!.data.city).toBeUndefined();
    const marked = await engine.db.pool.query<{ member_key: string; row_in_changes: boolean; in_rows: boolean }>(
      `select m.member_key, m.row_in_changes, exists (select 1 from member_rows r where r.tenant_id = m.tenant_id and r.member_key = m.member_key) as in_rows
       from members m where m.tenant_id = 'acme' and m.member_key in ('E2', 'E3', 'E42') order by m.member_key`,
    );
    // E2 and E3 (every row's hash changed with the columns: E2 a silent refresh, E3 an update) merged into
    // member_rows, keeping their city; E42 its change
    expect(afterFourth.get('E2')!.data).toMatchObject({ city: 'Lyon' });
    expect(marked.rows).toEqual([
      { member_key: 'E2', row_in_changes: false, in_rows: true },
      { member_key: 'E3', row_in_changes: false, in_rows: true },
      { member_key: 'E42', row_in_changes: true, in_rows: false },
    ]);
    // no marked member also has a member_rows row
    expect(await countRows(engine.db, 'members m', `m.row_in_changes and exists (select 1 from member_rows r where r.tenant_id = m.tenant_id and r.member_key = m.member_key)`)).toBe(0);
  });

  it('a run that adds a column keeps whole rows in its changes; purging it moves them; a re-key copies rows kept at several runs', async () => {
    const file = (people: Person[], header = HEADER) => fileOf(`members - 03.${String(++day).padStart(2, '0')}.2023.csv`, csvOf(people, header));
    const markedAt = async () =>
      (await engine.db.pool.query<{ run: number; n: number }>(
        "select updated_run_id::int as run, count(*)::int as n from members where tenant_id = 'acme' and row_in_changes group by 1 order by 1",
      )).rows;
    const first = await ingestFile(engine.ctx, tenantOf(), file(range(1, 10), HEADER.filter((h) => h !== 'City')));
    // City added: every row's hash changes, every member's new row is whole (a superset of the first run's columns)
    const second = await ingestFile(engine.ctx, tenantOf(), file(range(1, 10)));
    expect(second.status).toBe('accepted');
    expect(await storedRows()).toBe(0);
    expect(await markedAt()).toEqual([{ run: second.runId, n: 10 }]);
    const third = await ingestFile(engine.ctx, tenantOf(), file([...range(1, 4), person(5, { city: 'Lyon' }), ...range(6, 10)]));
    expect(third.counts).toMatchObject({ updates: 1 });
    expect(await markedAt()).toEqual([
      { run: second.runId, n: 9 },
      { run: third.runId, n: 1 },
    ]);
    const before = await membersOf(engine.db);

    await engine.db.pool.query(`update runs set created_at = now() - interval '100 days' where id = any($1::bigint[])`, [[first.runId, second.runId]]);
    expect(await purgeOldRuns(engine.db, 90)).toMatchObject({ runs: 2 });
    expect(await storedRows()).toBe(9);
    expect(await markedAt()).toEqual([{ run: third.runId, n: 1 }]);
    expect(await membersOf(engine.db)).toEqual(before);

    // the tenant now matches by email: every row, in member_rows or still in the third run's changes, follows
    const rekeyed = await ingestFile(engine.ctx, tenantOf({ key: 'email' }), file([...range(1, 4), person(5, { city: 'Lyon' }), ...range(6, 11)]));
    expect(rekeyed).toMatchObject({ status: 'accepted', counts: { invites: 1, updates: 0, deletions: 0 } });
    const after = await membersOf(engine.db);
    expect([...after.keys()].sort()).toEqual(range(1, 11).map((p) => p.email!).sort());
    expect(after.get('m5@example.com')!.data).toMatchObject({ city: 'Lyon', first_name: 'First5' });
  });

  it('retention waits for a run of the tenant in progress: a member the run deletes is not copied back into member_rows', async (test) => {
    skipOnEmbedded(test, engine.db, 'needs a second session waiting for the tenant lock');
    const first = await ingest(range(1, 40));
    await engine.db.pool.query(`update runs set created_at = now() - interval '100 days' where id = $1`, [first.runId]);
    let purging: ReturnType<typeof purgeOldRuns> | undefined;
    // member 4 leaves; retention starts while the run is about to commit
    const second = await ingestFile(engine.ctx, tenantOf(), fileOf('members - 02.01.2023.csv', csvOf([...range(1, 3), ...range(5, 40)])), {
      outDir: engine.out,
      beforeCommit: async () => {
        purging = purgeOldRuns(engine.db, 90);
        purging.catch(() => undefined);
        await someoneWaitsForALock(engine.db);
      },
    });
    expect(second).toMatchObject({ status: 'accepted', counts: { deletions: 1, updates: 0, invites: 0 } });
    expect(await purging).toMatchObject({ runs: 1 });
    expect(await countRows(engine.db, 'member_rows', "tenant_id = 'acme' and member_key = 'E4'")).toBe(0);
    expect(await storedRows()).toBe(39);
    const members = await membersOf(engine.db);
    expect([...members.keys()].sort()).toEqual(range(1, 40).map((p) => p.id!).filter((id) => id !== 'E4').sort());
  });

  it('a re-key after a first file moves the rows into member_rows under the new key', async () => {
    await ingest(range(1, 30), tenantOf({ key: 'email' }));
    expect(await storedRows()).toBe(0);
    const rekeyed = await ingest([person(1), ...range(2, 30, { city: 'Nice' })], tenantOf({ key: 'employee_id' }));
    expect(rekeyed).toMatchObject({ status: 'accepted', key: 'employee_id', counts: { updates: 29, deletions: 0 } });
    const members = await membersOf(engine.db);
    expect(members.get('E1')!.data).toMatchObject({ city: 'Paris', first_name: 'First1', email: 'm1@example.com' });
    expect(members.get('E30')!.data).toMatchObject({ city: 'Nice', first_name: 'First30' });
    expect(await storedRows()).toBe(30);
  });
});
