import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { importBaseline, ingestFile, previewFile, UnusableFileError } from '../src/pipeline.js';
import { countRows, csvOf, fileOf, membersOf, person, range, skipOnEmbedded, tenantOf, useEngine } from './pipeline.support.js';

describe('preview and baseline import', () => {
  const engine = useEngine({ outDir: 'engine-preview-' });

  it('preview against the stored state diffs and renders, but stores nothing', async () => {
    await ingestFile(engine.ctx, tenantOf(), fileOf('a.csv', csvOf(range(1, 10))));
    const before = { runs: await countRows(engine.db, 'runs'), outbox: await countRows(engine.db, 'outbox'), changes: await countRows(engine.db, 'run_changes') };
    const next = [...range(1, 9).map((p, i) => (i === 0 ? { ...p, city: 'Oslo' } : p)), person(11)];
    const summary = await previewFile(engine.ctx, tenantOf(), fileOf('acme 2023-04-01.csv', csvOf(next)), { outDir: engine.out });
    expect(summary).toMatchObject({ runId: undefined, tenant: 'acme', file: 'acme 2023-04-01.csv', status: 'accepted', rows: 10 });
    expect(summary.counts).toMatchObject({ invites: 1, updates: 1, deletions: 1, unchanged: 8 });
    expect(path.basename(summary.files.updates!)).toBe('acme 2023-04-01 profile updates.csv');
    const updates = parse(await readFile(summary.files.updates!, 'utf8')) as string[][];
    expect(updates.slice(1).map((r) => [r[3], r[8]])).toEqual([['E1', 'city']]);
    expect({ runs: await countRows(engine.db, 'runs'), outbox: await countRows(engine.db, 'outbox'), changes: await countRows(engine.db, 'run_changes') }).toEqual(before);
    expect((await membersOf(engine.db)).get('E1')!.data.city).toBe('Paris');
    expect((await membersOf(engine.db)).has('E11')).toBe(false);
  });

  it('preview reports what ingest would do: held, duplicate', async () => {
    await ingestFile(engine.ctx, tenantOf(), fileOf('a.csv', csvOf(range(1, 40))));
    const held = await previewFile(engine.ctx, tenantOf(), fileOf('b.csv', csvOf(range(1, 5))));
    expect(held.status).toBe('held');
    expect(held.reasons[0]).toBe('would delete 35 of 40 members on the platform (87.5%), limit 10% and 25');
    const same = await previewFile(engine.ctx, tenantOf(), fileOf('c.csv', csvOf(range(1, 40))));
    expect(same.status).toBe('duplicate');
    expect(same.reasons).toEqual([expect.stringMatching(/^same content as run \d+ \(accepted\); nothing to do$/)]);
    expect(await countRows(engine.db, 'runs')).toBe(1);
  });

  it('preview --against PREVIOUS takes PREVIOUS as a first file, ignoring the stored state', async () => {
    await ingestFile(engine.ctx, tenantOf(), fileOf('stored.csv', csvOf(range(100, 110))));
    const tenantsBefore = await countRows(engine.db, 'tenants');
    const previous = fileOf('prev.csv', csvOf([...range(1, 10), person(11, { status: 'inactive' })]));
    const file = fileOf('next.csv', csvOf([...range(1, 9), person(10, { status: 'inactive' }), person(11), person(12)]));
    const summary = await previewFile(engine.ctx, tenantOf(), file, { against: previous, outDir: engine.out });
    expect(summary.tenant).toBe('acme');
    expect(summary.counts).toEqual({ invites: 2, updates: 1, deactivations: 1, reactivations: 0, deletions: 0, unchanged: 9, notInvitable: 0 });
    expect(path.basename(summary.files.invites!)).toMatch(/^acme /);
    expect(await countRows(engine.db, 'runs')).toBe(1);
    expect(await countRows(engine.db, 'tenants')).toBe(tenantsBefore); // no scratch tenant left behind
    expect((await membersOf(engine.db)).size).toBe(11);
  });

  it('a preview does not wait for an ingest of the same tenant in progress', async (test) => {
    skipOnEmbedded(test, engine.db, 'a preview cannot run beside an ingest in its transaction on embedded PGlite (one session)');
    await ingestFile(engine.ctx, tenantOf(), fileOf('a.csv', csvOf(range(1, 10))));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const text = csvOf(range(1, 11));
    const slow = {
      name: 'slow.csv',
      open: () =>
        Readable.from(
          (async function* () {
            yield Buffer.from(text.slice(0, 200));
            await gate;
            yield Buffer.from(text.slice(200));
          })(),
        ),
    };
    const ingesting = ingestFile(engine.ctx, tenantOf(), slow);
    // wait until the ingest holds its tenant lock (it is inside its transaction, waiting for the rest of the file)
    let locked = false;
    for (let i = 0; i < 400 && !locked; i++) {
      const held = await engine.db.pool.query("select count(*)::int as n from pg_locks where locktype = 'advisory' and granted");
      locked = held.rows[0].n > 0;
      if (!locked) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(locked).toBe(true);
    const preview = await previewFile(engine.ctx, tenantOf(), fileOf('p.csv', csvOf(range(1, 12))));
    expect(preview.counts.invites).toBe(2);
    release();
    expect((await ingesting).counts.invites).toBe(1);
  });

  it('preview --against with an invalid PREVIOUS fails with the reasons', async () => {
    const previous = fileOf('prev.csv', csvOf([person(1), person(2, { status: 'gone' })]));
    await expect(previewFile(engine.ctx, tenantOf(), fileOf('n.csv', csvOf([person(1)])), { against: previous })).rejects.toThrow(UnusableFileError);
  });

  it('preview --against without a database: a PREVIOUS whose last row, past the columns\' first 1,024, is invalid is unusable, with the reason (not an internal RangeError)', async () => {
    const previous = fileOf('p.csv', csvOf([...range(1, 1_024), person(1_025, { last: '' })])); // the columns' capacity, then one row past it
    const error = await previewFile({}, tenantOf(), fileOf('n.csv', csvOf([person(1)])), { against: previous }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnusableFileError);
    expect((error as Error).message).toMatch(/1 invalid row\(s\).*line 1026, Last Name: last_name is required/);
  });

  it('an unusable file names line, column and reason, never a member\'s value (the message reaches stderr and logs)', async () => {
    // a new segment value is quoted in its reason: masked
    const invalidRows = csvOf([person(1), person(2, { email: 'jane.doe@secret..example' }), person(3, { city: 'Zebulon' })]);
    const tenant = tenantOf({ allowedValues: { city: ['Paris'] } });
    // Without its header row, the first member's row is taken for the header: the error quotes it, masked.
    const headerless = csvOf([person(1, { first: 'Zebulon', email: 'jane.doe@secret.example' }), person(2)]).split('\n').slice(1).join('\n');
    for (const [content, expected] of [
      [invalidRows, /^prev\.csv: 2 invalid row\(s\), 2 error\(s\): line 3, Email Address: not a valid email address.*; line 4, City: new segment value "\[value\]"/],
      [headerless, /^prev\.csv: line 1: .*"…"/],
    ] as const) {
      const previous = () => fileOf('prev.csv', content);
      for (const attempt of [
        () => previewFile(engine.ctx, tenant, fileOf('n.csv', csvOf([person(1)])), { against: previous() }),
        () => previewFile({}, tenant, fileOf('n.csv', csvOf([person(1)])), { against: previous() }),
        () => importBaseline(engine.ctx, tenant, previous()),
      ]) {
        const error = (await attempt().catch((e: unknown) => e)) as Error;
        expect(error).toBeInstanceOf(UnusableFileError);
        expect(error.message).toMatch(expected);
        expect(error.message).not.toMatch(/jane|secret|Zebulon/);
      }
    }
  });

  it('preview without a database runs the diff in memory (src/preview/)', async () => {
    const summary = await previewFile({}, tenantOf(), fileOf('s.csv', csvOf([person(1), person(2, { status: 'inactive' })])), { outDir: engine.out });
    expect(summary).toMatchObject({ status: 'accepted', rows: 2, key: 'employee_id' });
    expect(summary.counts).toMatchObject({ invites: 1, notInvitable: 1 });
    const invites = parse(await readFile(summary.files.invites!, 'utf8')) as string[][];
    expect(invites.length).toBe(2);
  }, 120_000);

  it('baseline import: the export becomes the state, every member on the platform; the next file diffs against it', async () => {
    const result = await importBaseline(engine.ctx, tenantOf(), fileOf('export.csv', csvOf([...range(1, 5), person(6, { status: 'inactive' })])));
    expect(result.members).toBe(6);
    const members = await membersOf(engine.db);
    expect([...members.values()].every((m) => m.on_platform)).toBe(true);
    const run = await engine.db.pool.query('select source, status, rows from runs where id = $1', [result.runId]);
    expect(run.rows[0]).toEqual({ source: 'baseline', status: 'accepted', rows: 6 });
    expect(await countRows(engine.db, 'outbox')).toBe(0);
    const next = await ingestFile(engine.ctx, tenantOf(), fileOf('n.csv', csvOf([...range(1, 5), person(6), person(7)])));
    // 6 was inactive but on the platform (the export lists platform members): a reactivation, not an invite
    expect(next.counts).toEqual({ invites: 1, updates: 1, deactivations: 0, reactivations: 1, deletions: 0, unchanged: 5, notInvitable: 0 });
  });

  it('baseline import replaces the previous state and refuses a file with invalid rows', async () => {
    await ingestFile(engine.ctx, tenantOf(), fileOf('a.csv', csvOf(range(1, 3))));
    await importBaseline(engine.ctx, tenantOf(), fileOf('export.csv', csvOf(range(3, 4))));
    expect([...(await membersOf(engine.db)).keys()]).toEqual(['E3', 'E4']);
    await expect(importBaseline(engine.ctx, tenantOf(), fileOf('bad.csv', csvOf([person(1), person(1)])))).rejects.toThrow(
      /bad\.csv: 2 invalid row\(s\), 4 error\(s\): line 2, Email Address: duplicate email: also on line 3/,
    );
    expect([...(await membersOf(engine.db)).keys()]).toEqual(['E3', 'E4']);
    await expect(importBaseline(engine.ctx, tenantOf(), fileOf('empty.csv', csvOf([])))).rejects.toThrow(/no member rows/);
    expect([...(await membersOf(engine.db)).keys()]).toEqual(['E3', 'E4']);
  });
});
