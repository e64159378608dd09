import { describe, expect, it } from 'vitest';
import { approveRun, ingestFile, previewFile } from '../src/pipeline.js';
import { changesOf, countRows, csvOf, fileOf, HEADER, membersOf, person, tenantOf, useEngine } from './pipeline.support.js';

describe('diff semantics (DESIGN.md table) through ingest', () => {
  const engine = useEngine();
  let fileNo = 0;
  const ingest = (people: ReturnType<typeof person>[], tenant = tenantOf(), header?: string[]) =>
    ingestFile(engine.ctx, tenant, fileOf(`acme - ${String(++fileNo).padStart(2, '0')}.13.2023.csv`, csvOf(people, header)));

  it('first file: every invitable member is a potential invite, no deletions; the others are stored but not on the platform', async () => {
    const summary = await ingest([person(1), person(2, { status: 'inactive' }), person(3, { eligibility: 'ineligible' }), person(4, { status: '' })]);
    expect(summary).toMatchObject({ status: 'accepted', rows: 4, key: 'employee_id', errorCount: 0, reasons: [] });
    expect(summary.counts).toEqual({ invites: 2, updates: 0, deactivations: 0, reactivations: 0, deletions: 0, unchanged: 0, notInvitable: 2 });
    const members = await membersOf(engine.db);
    expect([...members.values()].map((m) => [m.member_key, m.on_platform])).toEqual([
      ['E1', true], ['E2', false], ['E3', false], ['E4', true],
    ]);
    expect(await countRows(engine.db, 'outbox', `kind = 'run' and run_id = ${summary.runId}`)).toBe(1);
    expect(await countRows(engine.db, 'runs', `status = 'accepted'`)).toBe(1);
  });

  it('every outcome of the table in one next file', async () => {
    await ingest([
      person(1), // unchanged
      person(2), // will change city -> update
      person(3), // will go inactive -> deactivation
      person(4, { status: 'inactive' }), // never invited; becomes active -> invite (back from inactive before ever invited)
      person(5, { eligibility: 'ineligible' }), // becomes eligible -> invite (newly eligible)
      person(6), // absent next time -> deletion
      person(7, { status: 'inactive' }), // stays inactive, not on platform -> nothing (not invitable)
      person(8, { status: 'inactive' }), // absent next time, never on platform -> silently forgotten
    ]);
    // make 3 inactive first, then reactivate in a third file
    const next = await ingest([
      person(1),
      person(2, { city: 'Lyon' }),
      person(3, { status: 'inactive' }),
      person(4),
      person(5, { eligibility: 'eligible' }),
      person(7, { status: 'inactive', city: 'Nice' }),
      person(9), // new -> invite
    ]);
    expect(next.status).toBe('accepted');
    expect(next.counts).toEqual({ invites: 3, updates: 2, deactivations: 1, reactivations: 0, deletions: 1, unchanged: 1, notInvitable: 1 });
    expect(await changesOf(engine.db, next.runId!)).toEqual([
      { kind: 'deletion', change_type: null, member_key: 'E6', changed_fields: null },
      { kind: 'forget', change_type: null, member_key: 'E8', changed_fields: null },
      { kind: 'invite', change_type: null, member_key: 'E4', changed_fields: null },
      { kind: 'invite', change_type: null, member_key: 'E5', changed_fields: null },
      { kind: 'invite', change_type: null, member_key: 'E9', changed_fields: null },
      { kind: 'store', change_type: null, member_key: 'E7', changed_fields: null },
      { kind: 'update', change_type: 'update', member_key: 'E2', changed_fields: ['city'] },
      { kind: 'update', change_type: 'deactivation', member_key: 'E3', changed_fields: ['status'] },
    ]);
    const members = await membersOf(engine.db);
    expect([...members.keys()]).toEqual(['E1', 'E2', 'E3', 'E4', 'E5', 'E7', 'E9']);
    expect(members.get('E4')!.on_platform).toBe(true);
    expect(members.get('E5')!.on_platform).toBe(true);
    expect(members.get('E7')).toMatchObject({ on_platform: false });
    expect(members.get('E7')!.data.city).toBe('Nice');
    expect(members.get('E3')!.data.status).toBe('inactive');
    expect(members.get('E3')!.on_platform).toBe(true);

    const third = await ingest([person(1), person(2, { city: 'Lyon' }), person(3), person(4), person(5), person(7, { status: 'inactive', city: 'Nice' }), person(9)]);
    expect(third.counts).toEqual({ invites: 0, updates: 1, deactivations: 0, reactivations: 1, deletions: 0, unchanged: 5, notInvitable: 1 });
    expect(await changesOf(engine.db, third.runId!)).toEqual([{ kind: 'update', change_type: 'reactivation', member_key: 'E3', changed_fields: ['status'] }]);
  });

  it('under the employee_id key an email change is an update, not a deletion and an invite', async () => {
    await ingest([person(1), person(2)]);
    const next = await ingest([person(1, { email: 'Renamed@Example.com' }), person(2)]);
    expect(next.key).toBe('employee_id');
    expect(next.counts).toMatchObject({ invites: 0, updates: 1, deletions: 0, unchanged: 1 });
    expect(await changesOf(engine.db, next.runId!)).toEqual([{ kind: 'update', change_type: 'update', member_key: 'E1', changed_fields: ['email'] }]);
    expect((await membersOf(engine.db)).get('E1')!.email).toBe('renamed@example.com');
  });

  it('without employee ids the key is the lower-cased email; a changed email is a deletion plus an invite', async () => {
    await ingest([person(1, { id: '' }), person(2, { id: '' })]);
    const next = await ingest([person(1, { id: '', email: 'M1@EXAMPLE.COM ' }), person(2, { id: '', email: 'other@example.com' })]);
    expect(next.key).toBe('email');
    expect(next.counts).toMatchObject({ invites: 1, deletions: 1, unchanged: 0, updates: 1 });
    const changes = await changesOf(engine.db, next.runId!);
    expect(changes.map((c) => [c.kind, c.member_key])).toEqual([
      ['deletion', 'm2@example.com'], ['invite', 'other@example.com'], ['update', 'm1@example.com'],
    ]);
    expect(changes.find((c) => c.kind === 'update')!.changed_fields).toEqual(['email']);
  });

  it('a deleted member who comes back is new again (invite)', async () => {
    const others = [10, 11, 12, 13, 14, 15, 16, 17].map((n) => person(n));
    await ingest([person(1), person(2), ...others]);
    const without = await ingest([person(1), ...others]);
    expect(without).toMatchObject({ status: 'accepted' });
    expect(without.counts.deletions).toBe(1);
    expect((await membersOf(engine.db)).has('E2')).toBe(false);
    const back = await ingest([person(1), person(2), ...others]);
    expect(back.counts).toMatchObject({ invites: 1, deletions: 0, updates: 0, unchanged: 9 });
    expect((await membersOf(engine.db)).get('E2')!.on_platform).toBe(true);
  });

  it('a member not on the platform who is not invitable is counted as notInvitable, never invited or updated', async () => {
    const others = [10, 11, 12, 13, 14, 15, 16, 17].map((n) => person(n));
    await ingest([person(1), person(2, { status: 'inactive' }), ...others]);
    const next = await ingest([person(1), person(2, { status: 'inactive', city: 'Rome' }), ...others]);
    expect(next.counts).toEqual({ invites: 0, updates: 0, deactivations: 0, reactivations: 0, deletions: 0, unchanged: 9, notInvitable: 1 });
    const gone = await ingest([person(1), ...others]);
    expect(gone).toMatchObject({ status: 'accepted' });
    expect(gone.counts.deletions).toBe(0); // never on the platform: nothing to delete there
    expect((await membersOf(engine.db)).has('E2')).toBe(false);
  });

  it('an on-platform member who becomes ineligible is an update (they are on the platform)', async () => {
    await ingest([person(1), person(2)]);
    const next = await ingest([person(1), person(2, { eligibility: 'ineligible' })]);
    expect(await changesOf(engine.db, next.runId!)).toEqual([{ kind: 'update', change_type: 'update', member_key: 'E2', changed_fields: ['program_eligibility'] }]);
  });

  it('a column the file no longer carries is not a change; the stored row keeps it', async () => {
    const noCity = HEADER.filter((h) => h !== 'City');
    await ingest([person(1), person(2)]);
    const next = await ingest([person(1), person(2, { status: 'inactive' })], tenantOf(), noCity);
    expect(next.counts).toMatchObject({ updates: 1, deactivations: 1, unchanged: 1, invites: 0, deletions: 0 });
    expect(await changesOf(engine.db, next.runId!)).toEqual([
      { kind: 'store', change_type: null, member_key: 'E1', changed_fields: null }, // refreshes the stored hash
      { kind: 'update', change_type: 'deactivation', member_key: 'E2', changed_fields: ['status'] },
    ]);
    expect((await membersOf(engine.db)).get('E1')!.data.city).toBe('Paris');
    const third = await ingest([person(1), person(2, { status: 'inactive', last: 'Renamed' })], tenantOf(), noCity);
    expect(await changesOf(engine.db, third.runId!)).toEqual([{ kind: 'update', change_type: 'update', member_key: 'E2', changed_fields: ['last_name'] }]);
  });

  it('a tenant switching its key setting re-keys the stored members (rows kept)', async () => {
    await ingest([person(1), person(2)], tenantOf({ key: 'email' }));
    expect([...(await membersOf(engine.db)).keys()]).toEqual(['m1@example.com', 'm2@example.com']);
    const next = await ingest([person(1, { email: 'new1@example.com' }), person(2)], tenantOf({ key: 'employee_id' }));
    expect(next.key).toBe('employee_id');
    expect(next.warnings).toContain('members are now matched by employee_id (was email)');
    expect(await changesOf(engine.db, next.runId!)).toEqual([{ kind: 'update', change_type: 'update', member_key: 'E1', changed_fields: ['email'] }]);
    const members = await membersOf(engine.db);
    expect([...members.keys()]).toEqual(['E1', 'E2']);
    expect(members.get('E2')!.data.first_name).toBe('First2');
  });

  it('auto key keeps the tenant\'s established key: a row without employee_id is then an error, not a silent switch to email', async () => {
    await ingest([person(1), person(2)]);
    const next = await ingest([person(1), person(2, { id: '' })]);
    expect(next.status).toBe('rejected');
    expect(next.key).toBe('employee_id');
    expect(next.errors).toEqual([
      { line: 3, column: 'Unique ID', value: '', message: "employee_id is required: this tenant's members are matched by employee_id" },
    ]);
  });

  it('a key value too long for the stores\' indexes is an error on its row (line, column, cut value), not a database error', async () => {
    const longId = 'x'.repeat(2_800);
    const longEmail = `${'a'.repeat(4_000)}@example.com`;
    const dated = (day: number, people: ReturnType<typeof person>[], tenant = tenantOf()) =>
      ingestFile(engine.ctx, tenant, fileOf(`acme - 05.${String(day).padStart(2, '0')}.2024.csv`, csvOf(people)));
    const byId = await dated(1, [person(1, { id: longId }), person(2)]);
    expect(byId.status).toBe('rejected');
    expect(byId.errors).toEqual([{ line: 2, column: 'Unique ID', value: expect.stringMatching(/^x{100,}…$/), message: 'employee_id is 2,800 characters long; at most 255 are allowed' }]);
    expect((byId.errors[0]!.value as string).length).toBeLessThan(300);
    const byEmail = await dated(2, [person(1, { email: longEmail, id: '' }), person(2, { id: '' })], tenantOf({ key: 'email', invalidRows: 'skip' }));
    expect(byEmail).toMatchObject({ status: 'accepted', key: 'email', counts: { invites: 1 } });
    expect(byEmail.errors[0]).toMatchObject({ line: 2, column: 'Email Address', message: 'email is 4,012 characters long; at most 254 are allowed' });
    expect([...(await membersOf(engine.db)).keys()]).toEqual(['m2@example.com']);
  });

  it('a Locale column added blank changes nobody (a missing locale is en-US, as a blank one); a locale set is an update; the in-memory preview agrees', async () => {
    const dated = (day: number, text: string) => ingestFile(engine.ctx, tenantOf(), fileOf(`acme - 06.${String(day).padStart(2, '0')}.2024.csv`, text));
    const withLocale = (locales: string[]) => {
      const [header, ...rows] = csvOf([person(1), person(2)]).trimEnd().split('\n');
      return `${header},Locale\n${rows.map((r, i) => `${r},${locales[i]}`).join('\n')}\n`;
    };
    const without = csvOf([person(1), person(2)]);
    expect((await dated(1, without)).status).toBe('accepted');
    const blank = await dated(2, withLocale(['', '']));
    expect(blank.counts).toMatchObject({ updates: 0, unchanged: 2 });
    const memory = await previewFile({}, tenantOf(), fileOf('acme - 06.02.2024.csv', withLocale(['', ''])), { against: fileOf('acme - 06.01.2024.csv', without) });
    expect(memory.counts).toMatchObject({ updates: 0, unchanged: 2 });
    const set = await dated(3, withLocale(['fr-CA', '']));
    expect(set.counts).toMatchObject({ updates: 1, unchanged: 1 });
    expect((await changesOf(engine.db, set.runId!)).filter((c) => c.kind === 'update').map((c) => c.changed_fields)).toEqual([['locale']]);
  });

  it('an approved empty file establishes no key: the next file with employee_id on every row is keyed by it, and an email change is an update', async () => {
    const dated = (month: number, people: ReturnType<typeof person>[]) => ingestFile(engine.ctx, tenantOf(), fileOf(`acme - 0${month}.13.2024.csv`, csvOf(people)));
    const empty = await dated(1, []);
    expect(empty).toMatchObject({ status: 'held', key: 'email' });
    await approveRun(engine.ctx, new Map(), empty.runId!, 'op');
    const second = await dated(2, [person(1), person(2)]);
    expect(second).toMatchObject({ status: 'accepted', key: 'employee_id', warnings: [] });
    const third = await dated(3, [person(1, { email: 'new1@example.com' }), person(2)]);
    expect(third.key).toBe('employee_id');
    expect(third.counts).toMatchObject({ invites: 0, updates: 1, deletions: 0 });
    // the in-memory preview of the same pair (an empty previous state) chooses the same key
    const memory = await previewFile({}, tenantOf(), fileOf('acme - 09.13.2023.csv', csvOf([person(1), person(2)])), {
      against: fileOf('acme - 08.13.2023.csv', csvOf([])),
    });
    expect(memory.key).toBe('employee_id');
  });
});
