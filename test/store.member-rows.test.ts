import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ingestFile, purgeOldRuns } from '../src/pipeline.js';
import { countRows, csvOf, fileOf, membersOf, person, range, tenantOf, useEngine, type Person } from './pipeline.support.js';

/**
 * A fresh tenant's first file writes its rows once, as the run's changes; member_rows takes a member's row
 * only when a later run changes it, when the first run's changes are purged, or before a re-key
 * (src/store/member-rows.ts). What a run reads of the stored rows must be the same either way.
 */
describe('stored rows kept in a first run\'s changes', () => {
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
    expect(await storedRows()).toBe(2); // only the members the second run wrote
    const afterSecond = await membersOf(engine.db);
    expect(afterSecond.get('E2')!.data).toMatchObject({ city: 'Lyon', first_name: 'First2' });
    expect(afterSecond.has('E4')).toBe(false);

    await engine.db.pool.query(`update runs set created_at = now() - interval '100 days' where id = $1`, [first.runId]);
    expect(await purgeOldRuns(engine.db, 90)).toMatchObject({ runs: 1 });
    expect(await countRows(engine.db, 'run_changes', `run_id = ${first.runId}`)).toBe(0);
    expect(await storedRows()).toBe(40);
    expect(await membersOf(engine.db)).toEqual(afterSecond);

    // the next diff compares with the moved rows exactly as before
    const third = await ingest([person(1), person(2, { city: 'Lyon' }), person(3, { last: 'Other' }), ...range(5, 41)]);
    expect(third).toMatchObject({ status: 'accepted', counts: { updates: 1, deletions: 0, invites: 0 } });
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
