import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { approveRun, ingestFile, rejectRun, renderRunFiles, RunCommittedError } from '../src/pipeline.js';
import { changesOf, countRows, csvOf, fileOf, HEADER, membersOf, person, range, skipOnEmbedded, tenantOf, type Person, useEngine } from './pipeline.support.js';

describe('runs: guardrails, approve / reject, duplicates, invalid rows, atomicity', () => {
  const engine = useEngine();
  let fileNo = 0;
  const ingest = (people: Person[], tenant = tenantOf(), text?: string) =>
    ingestFile(engine.ctx, tenant, fileOf(`acme - 01.${String(++fileNo).padStart(2, '0')}.2023.csv`, text ?? csvOf(people)));
  const runRow = async (id: number) => (await engine.db.pool.query('select status, base_run_id::int, decided_by, reasons from runs where id = $1', [id])).rows[0];

  it('a held run writes none of the platform files where the outputs go (they come with its approval): the accepted run\'s files of the same date stay', async () => {
    const dated = (people: Person[]) => ingestFile(engine.ctx, tenantOf(), fileOf('acme - 05.05.2023.csv', csvOf(people)), { outDir: engine.out });
    const first = await dated(range(1, 300));
    const before = await readFile(first.files.invites!, 'utf8');
    const held = await dated(range(1, 200));
    expect(held.status).toBe('held');
    expect(held.files).toEqual({});
    expect(await readFile(first.files.invites!, 'utf8')).toBe(before);
    expect((await readdir(engine.out)).filter((f) => f.includes('deletions'))).toEqual(['acme 2023-05-05 profile deletions.csv']);
    expect((await readFile(first.files.deletions!, 'utf8')).trimEnd().split('\n')).toHaveLength(1); // the first run's: a header only
    // its files failing after the commit do not undo the approval: RunCommittedError, as for an ingest
    const blocked = path.join(engine.out, 'a file, not a folder');
    await writeFile(blocked, '');
    const failed = await approveRun(engine.ctx, new Map(), held.runId!, 'olga', { outDir: blocked }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(RunCommittedError);
    expect((failed as RunCommittedError).summary).toMatchObject({ status: 'accepted' });
    const approved = await renderRunFiles(engine.db, held.runId!, engine.out);
    expect((await readFile(approved.deletions!, 'utf8')).trimEnd().split('\n')).toHaveLength(101);
  });

  it('holds a mass deletion: nothing applied, the reason says how many and the limits', async () => {
    await ingest(range(1, 300));
    const held = await ingest(range(1, 260)); // 40 of 300 = 13.3% and > 25
    expect(held.status).toBe('held');
    expect(held.reasons).toEqual(['would delete 40 of 300 members on the platform (13.3%), limit 10% and 25']);
    expect(held.counts).toMatchObject({ deletions: 40, unchanged: 260 });
    expect((await membersOf(engine.db)).size).toBe(300);
    expect(await countRows(engine.db, 'outbox', `run_id = ${held.runId}`)).toBe(1);
    // 10% but only 20 members: under the count limit, applied
    const small = await ingestFile(engine.ctx, tenantOf({ id: 'small' }), fileOf('a.csv', csvOf(range(1, 100))));
    expect(small.status).toBe('accepted');
    const fine = await ingestFile(engine.ctx, tenantOf({ id: 'small' }), fileOf('b.csv', csvOf(range(1, 85))));
    expect(fine).toMatchObject({ status: 'accepted', reasons: [] });
    expect(fine.counts.deletions).toBe(15);
  });

  it('holds a shrinking file and an empty one; tenant thresholds override the defaults', async () => {
    const tenant = tenantOf({ guardrails: { maxDeletePercent: 100, maxDeleteCount: 1000, maxShrinkPercent: 20 } });
    await ingest(range(1, 10), tenant);
    const shrunk = await ingest(range(1, 7), tenant);
    expect(shrunk.status).toBe('held');
    expect(shrunk.reasons).toEqual(['row count dropped from 10 to 7 (-30.0%) against the last accepted file, limit 20%']);
    const empty = await ingest([], tenant);
    expect(empty.status).toBe('held');
    expect(empty.reasons).toContain('the file has no member rows (header only)');
    await rejectRun(engine.ctx, empty.runId!, 'ops');
    const relaxed = tenantOf({ guardrails: { maxDeletePercent: 100, maxDeleteCount: 1000, maxShrinkPercent: 100, holdEmptyFile: false } });
    const applied = await ingest([], relaxed);
    expect(applied).toMatchObject({ status: 'accepted' });
    expect(applied.counts.deletions).toBe(10);
    expect((await membersOf(engine.db)).size).toBe(0);
  });

  it('approving a held run applies it; a second approve fails; the alert is queued again', async () => {
    await ingest(range(1, 30));
    const held = await ingest(range(1, 2));
    expect(held.status).toBe('held');
    const approved = await approveRun(engine.ctx, new Map(), held.runId!, 'ops@example.com');
    expect(approved.status).toBe('accepted');
    expect([...(await membersOf(engine.db)).keys()]).toEqual(['E1', 'E2']);
    expect(await runRow(held.runId!)).toMatchObject({ status: 'accepted', decided_by: 'ops@example.com' });
    expect(await countRows(engine.db, 'outbox', `run_id = ${held.runId}`)).toBe(2);
    await expect(approveRun(engine.ctx, new Map(), held.runId!, 'ops')).rejects.toThrow(/is accepted: only a held run can be approved/);
    // the next file is diffed against the approved state
    const next = await ingest(range(1, 2));
    expect(next.status).toBe('duplicate');
  });

  it('rejecting a held run discards it; the state stays', async () => {
    await ingest(range(1, 30));
    const held = await ingest(range(1, 2));
    const rejected = await rejectRun(engine.ctx, held.runId!, 'ops', 'customer sent a partial export');
    expect(rejected.status).toBe('rejected');
    expect(rejected.reasons).toContain('rejected by ops: customer sent a partial export');
    expect((await membersOf(engine.db)).size).toBe(30);
    await expect(approveRun(engine.ctx, new Map(), held.runId!, 'ops')).rejects.toThrow(/is rejected/);
    // the same content may come again (and is held again)
    expect((await ingest(range(1, 2))).status).toBe('held');
  });

  it('a run under a changed key setting re-keys the store only when applied: rejected, it leaves the store as it was for an older held run', async () => {
    const byEmail = tenantOf({ key: 'email' });
    await ingest(range(1, 30), byEmail);
    const held = await ingest(range(1, 2), byEmail); // 28 deletions: held
    expect(held.status).toBe('held');
    const byId = tenantOf({ key: 'employee_id', invalidRows: 'reject' });
    const rejected = await ingest([...range(1, 6), person(7, { email: 'not-an-email' }), ...range(8, 30)], byId);
    expect(rejected.status).toBe('rejected');
    expect([...(await membersOf(engine.db)).keys()].slice(0, 2)).toEqual(['m10@example.com', 'm11@example.com']);
    const approved = await approveRun(engine.ctx, new Map(), held.runId!, 'ops');
    expect(approved.counts).toMatchObject({ deletions: 28, unchanged: 2 });
    // the store is what the held run's deletion file told the CSMs: 2 members, keyed as it was compared
    expect([...(await membersOf(engine.db)).keys()]).toEqual(['m1@example.com', 'm2@example.com']);
  });

  it('a held run under a changed key setting re-keys the store when approved, then applies its changes', async () => {
    await ingest(range(1, 30), tenantOf({ key: 'email' }));
    const held = await ingest(range(1, 2, { city: 'Lyon' }), tenantOf({ key: 'employee_id' }));
    expect(held).toMatchObject({ status: 'held', key: 'employee_id' });
    expect(held.counts).toMatchObject({ deletions: 28, updates: 2 });
    expect(held.warnings).toContain('members are now matched by employee_id (was email)');
    expect((await membersOf(engine.db)).has('m1@example.com')).toBe(true); // not yet re-keyed
    expect((await changesOf(engine.db, held.runId!)).filter((c) => c.kind === 'deletion').map((c) => c.member_key).slice(0, 2)).toEqual(['E10', 'E11']);
    await approveRun(engine.ctx, new Map(), held.runId!, 'ops');
    const members = await membersOf(engine.db);
    expect([...members.keys()]).toEqual(['E1', 'E2']);
    expect(members.get('E2')!.data).toMatchObject({ city: 'Lyon', first_name: 'First2' });
  });

  it('stores the email as the engine lowercases it, so a re-key by email finds members whose email PostgreSQL lowercases otherwise', async () => {
    // 'ΟΔΟΣ'.toLowerCase() ends in a final sigma; PostgreSQL's lower() gives a plain one
    await ingest([person(1, { email: 'ΟΔΟΣ@example.com' }), ...range(2, 30)], tenantOf({ key: 'employee_id' }));
    expect((await membersOf(engine.db)).get('E1')!.email).toBe('οδος@example.com');
    await ingest([person(1, { email: 'ΟΔΟΣ@example.com', city: 'Lyon' }), ...range(2, 30)], tenantOf({ key: 'employee_id' }));
    const rekeyed = await ingest([person(1, { email: 'ΟΔΟΣ@example.com', city: 'Lyon' }), ...range(2, 29), person(30, { city: 'Nice' })], tenantOf({ key: 'email' }));
    expect(rekeyed).toMatchObject({ status: 'accepted', key: 'email' });
    expect(rekeyed.counts).toMatchObject({ invites: 0, deletions: 0, updates: 1, unchanged: 29 });
    expect((await membersOf(engine.db)).has('οδος@example.com')).toBe(true);
  });

  it('a file without an employee_id column keeps the stored employee ids of the members it updates', async () => {
    await ingest(range(1, 3), tenantOf({ key: 'email' }));
    const withoutId = HEADER.filter((h) => h !== 'Unique ID');
    const updated = await ingest(range(1, 3, { city: 'Lyon' }), tenantOf({ key: 'email' }), csvOf(range(1, 3, { city: 'Lyon' }), withoutId));
    expect(updated.counts).toMatchObject({ updates: 3 });
    const ids = await engine.db.pool.query<{ employee_id: string | null }>(`select employee_id from members where tenant_id = 'acme' order by employee_id`);
    expect(ids.rows.map((r) => r.employee_id)).toEqual(['E1', 'E2', 'E3']);
    const rekeyed = await ingest(range(1, 3, { city: 'Lyon' }), tenantOf({ key: 'employee_id' }));
    expect(rekeyed).toMatchObject({ status: 'accepted', key: 'employee_id' });
    expect(rekeyed.counts).toMatchObject({ invites: 0, deletions: 0 });
  });

  it('stored members that cannot be matched by the new key fail the run before anything is diffed, the store unchanged', async () => {
    await ingest([...range(1, 3), person(4, { id: '' })], tenantOf({ key: 'email' }));
    const stored = [...(await membersOf(engine.db)).keys()];
    await expect(ingest(range(1, 3), tenantOf({ key: 'employee_id' }))).rejects.toThrow(
      'cannot match stored members by employee_id: 1 of them have none; import a baseline with employee_id or keep the previous key',
    );
    // two stored members with one employee_id (a store written before ids were unique in files)
    await engine.db.pool.query(`update members set employee_id = 'E1' where member_key = 'm4@example.com'`);
    await expect(ingest(range(1, 3), tenantOf({ key: 'employee_id' }))).rejects.toThrow(
      'cannot match stored members by employee_id: 2 of them share their employee_id with another member',
    );
    expect([...(await membersOf(engine.db)).keys()]).toEqual(stored);
  });

  it('approving a held run whose base is no longer the last accepted run fails with a clear message', async () => {
    await ingest(range(1, 30));
    const held = await ingest(range(1, 2));
    const other = await ingest(range(1, 31));
    expect(other.status).toBe('accepted');
    await expect(approveRun(engine.ctx, new Map(), held.runId!, 'ops')).rejects.toThrow(
      `run ${held.runId} cannot be approved: it is superseded by run ${other.runId}, accepted after it was held. ` +
        `It was compared with run ${held.runId! - 1}, but the tenant's last accepted run is now run ${other.runId}; ingest the file again`,
    );
    expect((await membersOf(engine.db)).size).toBe(31);
  });

  it('the same content as the last accepted file is a duplicate: a run row and an alert, nothing else', async () => {
    const first = await ingest(range(1, 5));
    const again = await ingest(range(1, 5));
    expect(again).toMatchObject({ status: 'duplicate', key: 'employee_id', rows: 5, errorCount: 0 });
    expect(again.reasons).toEqual([`same content as run ${first.runId} (accepted); nothing to do`]);
    expect(await changesOf(engine.db, again.runId!)).toEqual([]);
    expect(await countRows(engine.db, 'outbox', `run_id = ${again.runId}`)).toBe(1);
    expect(await countRows(engine.db, 'runs')).toBe(2);
  });

  it('policy reject: one invalid row rejects the whole file with line, column, value and reason; the snapshot stays', async () => {
    await ingest(range(1, 3));
    const rows = [person(1, { city: 'Berlin' }), person(2, { status: 'Inactive' }), person(3), person(4, { email: 'M3@example.com' })];
    const rejected = await ingest(rows);
    expect(rejected.status).toBe('rejected');
    expect(rejected.errorCount).toBe(3);
    expect(rejected.errors.map((e) => [e.line, e.column, e.message])).toEqual([
      [3, 'Status', expect.stringMatching(/^status must be "active" or "inactive"/)],
      [4, 'Email Address', 'duplicate email: also on line 5 (emails match case-insensitively); each email must be unique in the file'],
      [5, 'Email Address', 'duplicate email: also on line 4 (emails match case-insensitively); each email must be unique in the file'],
    ]);
    expect(rejected.errors[0]!.value).toBe('Inactive');
    expect(rejected.errors[2]!.value).toBe('M3@example.com');
    expect(rejected.reasons[0]).toMatch(/^3 invalid row\(s\), 3 error\(s\): the file is rejected as a whole/);
    expect(await changesOf(engine.db, rejected.runId!)).toEqual([]);
    expect((await membersOf(engine.db)).get('E1')!.data.city).toBe('Paris');
    expect(await countRows(engine.db, 'outbox', `run_id = ${rejected.runId}`)).toBe(1);
  });

  it('duplicate keys: every row involved names the others (case-insensitive emails, employee ids)', async () => {
    const same = Array.from({ length: 8 }, (_, i) => person(10 + i, { email: i % 2 ? 'Dup@Example.com' : 'dup@example.com' }));
    const rows = [person(1), person(2, { id: 'E1' }), ...same];
    const rejected = await ingest(rows);
    expect(rejected.status).toBe('rejected');
    const messages = rejected.errors.map((e) => `${e.line} ${e.column}: ${e.message}`);
    expect(messages).toContain('2 Unique ID: duplicate employee_id: also on line 3; each employee_id must be unique in the file');
    expect(messages).toContain('3 Unique ID: duplicate employee_id: also on line 2; each employee_id must be unique in the file');
    expect(messages).toContain(
      '4 Email Address: duplicate email: also on lines 5, 6, 7, 8, 9 and 2 more (emails match case-insensitively); each email must be unique in the file',
    );
    expect(messages).toContain(
      '11 Email Address: duplicate email: also on lines 4, 5, 6, 7, 8 and 2 more (emails match case-insensitively); each email must be unique in the file',
    );
    expect(rejected.errorCount).toBe(10);
  });

  it('policy skip: invalid rows are reported, their members carried forward unchanged and never deleted', async () => {
    const tenant = tenantOf({ invalidRows: 'skip' });
    await ingest(range(1, 10), tenant);
    const next = await ingest(
      [...range(1, 7), person(8, { status: 'gone' }), person(9, { email: 'not-an-email' }), person(11), person(12, { status: 'bad' })],
      tenant,
    );
    expect(next.status).toBe('accepted');
    expect(next.errorCount).toBe(3);
    expect(next.counts).toMatchObject({ invites: 1, deletions: 1, unchanged: 7 });
    expect(next.warnings).toContain('3 invalid row(s) skipped (invalid-row policy "skip"); 2 stored member(s) carried forward unchanged');
    const members = await membersOf(engine.db);
    expect(members.has('E8')).toBe(true);
    expect(members.get('E8')!.data.status).toBe('active');
    expect(members.has('E9')).toBe(true);
    expect(members.has('E10')).toBe(false);
    expect(members.has('E12')).toBe(false);
  });

  it('policy skip: an invalid row without a key holds a run that would delete, since it may be one of them', async () => {
    const tenant = tenantOf({ invalidRows: 'skip' });
    await ingest(range(1, 10), tenant);
    const next = await ingest([...range(1, 8), person(9, { id: '', status: 'bad' })], tenant);
    expect(next.status).toBe('held');
    expect(next.reasons).toEqual([
      '1 invalid row(s) have no employee_id, so their members cannot be told apart from the 2 deletion(s): fix the rows, or approve if the deletions are right',
    ]);
    expect((await membersOf(engine.db)).size).toBe(10);
  });

  it('policy skip: an invalid row whose key cannot be trusted and names no stored member holds a run that would delete', async () => {
    // a mistyped email under the email key: m9 looks absent, though the row is hers
    const byEmail = tenantOf({ key: 'email', invalidRows: 'skip' });
    await ingest(range(1, 10), byEmail);
    const mistyped = await ingest([...range(1, 8), person(9, { email: 'm9@example' })], byEmail);
    expect(mistyped.status).toBe('held');
    expect(mistyped.counts).toMatchObject({ deletions: 2 });
    expect(mistyped.reasons).toEqual([
      '1 invalid row(s) have an email that no stored member has (a damaged row can carry the wrong value), so their members cannot be ' +
        'told apart from the 2 deletion(s): fix the rows, or approve if the deletions are right',
    ]);
    expect((await membersOf(engine.db)).size).toBe(10);
  });

  it('policy skip: a row carrying another member\'s key holds a run that would delete: the deleted member may be that row\'s', async () => {
    const tenant = tenantOf({ invalidRows: 'skip' });
    await ingest(range(1, 10), tenant);
    // member 10's row carries member 1's id: both rows are duplicates, member 1 is carried forward, 10 looks absent
    const next = await ingest([...range(1, 9), person(10, { id: 'E1' })], tenant);
    expect(next.status).toBe('held');
    expect(next.counts).toMatchObject({ deletions: 1 });
    expect(next.reasons).toEqual([
      "2 invalid row(s) share their employee_id with another row, so at most one row of each is that employee_id's member and the " +
        'others cannot be told apart from the 1 deletion(s): fix the rows, or approve if the deletions are right',
    ]);
    expect((await membersOf(engine.db)).has('E10')).toBe(true);
    // a shared email under the employee_id key names nobody wrongly: each row's own id carries its member
    const byId = await ingest([...range(1, 9), person(10, { email: 'm1@example.com' })], tenantOf({ id: 'acme', invalidRows: 'skip' }));
    expect(byId).toMatchObject({ status: 'accepted', reasons: [], counts: { deletions: 0 } });
  });

  it('policy skip: a row whose cells are shifted by a missing separator holds a run that would delete; a bad value beside a good key does not', async () => {
    const tenant = tenantOf({ id: 'shifted', invalidRows: 'skip' });
    const ingestFor = (text: string) => ingestFile(engine.ctx, tenant, fileOf(`shifted - 01.${String(++fileNo).padStart(2, '0')}.2023.csv`, text));
    await ingestFor(csvOf(range(1, 10)));
    // person 9's first name and its separator are missing: 'active' lands in the Unique ID column
    const shifted = csvOf(range(1, 9)).replace('First9,Last9,', 'Last9,');
    const held = await ingestFor(shifted);
    expect(held.status).toBe('held');
    expect(held.counts).toMatchObject({ deletions: 2 });
    expect(held.reasons).toEqual([expect.stringMatching(/^1 invalid row\(s\) have an employee_id that no stored member has/)]);
    // a new member's bad status names the member by a good id: nobody to confuse with the deletion
    const fine = await ingestFor(csvOf([...range(1, 9), person(12, { status: 'bad' })]));
    expect(fine).toMatchObject({ status: 'accepted', reasons: [] });
    expect(fine.counts).toMatchObject({ deletions: 1 });
  });

  it('a file that breaks while being read leaves nothing behind (no run, no members, no alert)', async () => {
    const text = csvOf(range(1, 5000));
    const broken = {
      name: 'broken.csv',
      open: () =>
        Readable.from(
          (async function* () {
            yield Buffer.from(text.slice(0, 100_000));
            throw new Error('connection reset');
          })(),
        ),
    };
    await expect(ingestFile(engine.ctx, tenantOf(), broken)).rejects.toThrow(/connection reset/);
    expect(await countRows(engine.db, 'runs')).toBe(0);
    expect(await countRows(engine.db, 'members')).toBe(0);
    expect(await countRows(engine.db, 'outbox')).toBe(0);
  });

  it('a fatal file problem (missing required column) is a rejected run with the error', async () => {
    const rejected = await ingest([], tenantOf(), `${HEADER.filter((h) => h !== 'Email Address').join(',')}\nA,B,E1,active,eligible,Paris\n`);
    expect(rejected.status).toBe('rejected');
    expect(rejected.errorCount).toBe(1);
    expect(rejected.errors[0]!.line).toBe(1);
    expect(rejected.reasons[0]).toMatch(/^the file could not be read: /);
  });

  it('one ingest per tenant at a time (advisory lock): a second one waits', async (test) => {
    skipOnEmbedded(test, engine.db, 'a second connection cannot wait for the tenant lock on embedded PGlite (one session)');
    await ingest(range(1, 3));
    const holder = new pg.Client({ connectionString: engine.db.url });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query("select pg_advisory_xact_lock(72616002, hashtext('tenant:' || 'acme'))");
      let settled = false;
      const waiting = ingest(range(1, 4)).then((s) => {
        settled = true;
        return s;
      });
      let waitingForLock = false;
      for (let i = 0; i < 400 && !waitingForLock; i++) {
        const pending = await holder.query("select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted");
        waitingForLock = pending.rows[0].n > 0;
        if (!waitingForLock) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(waitingForLock).toBe(true);
      expect(settled).toBe(false);
      await holder.query('commit');
      expect((await waiting).status).toBe('accepted');
    } finally {
      await holder.end();
    }
  });
});
