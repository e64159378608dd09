import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { ingestFile, renderRunFiles } from '../src/pipeline.js';
import { csvOf, fileOf, person, range, tenantOf, useEngine } from './pipeline.support.js';

describe('output files', () => {
  const engine = useEngine({ outDir: 'engine-out-' });
  const read = async (name: string) => parse(await readFile(path.join(engine.out, name), 'utf8')) as string[][];

  it('writes the three files named with tenant and file date, in canonical columns, updates with what changed', async () => {
    await ingestFile(engine.ctx, tenantOf(), fileOf('Acme - Membership - 01.13.2023.csv', csvOf(range(1, 12))));
    const next = [
      ...range(1, 10).map((p, i) => (i === 0 ? { ...p, city: 'Lyon', email: 'x1@example.com' } : i === 1 ? { ...p, status: 'inactive' } : p)),
      person(13),
    ];
    const summary = await ingestFile(engine.ctx, tenantOf(), fileOf('Acme - Membership - 02.13.2023.csv', csvOf(next)), { outDir: engine.out });
    expect(summary.status).toBe('accepted');
    expect(summary.files).toEqual({
      invites: path.join(engine.out, 'acme 2023-02-13 potential invites.csv'),
      updates: path.join(engine.out, 'acme 2023-02-13 profile updates.csv'),
      deletions: path.join(engine.out, 'acme 2023-02-13 profile deletions.csv'),
    });
    expect((await readdir(engine.out)).sort()).toEqual([
      'acme 2023-02-13 potential invites.csv', 'acme 2023-02-13 profile deletions.csv', 'acme 2023-02-13 profile updates.csv',
    ]);
    const columns = ['first_name', 'last_name', 'email', 'employee_id', 'status', 'program_eligibility', 'city'];
    expect(await read('acme 2023-02-13 potential invites.csv')).toEqual([
      columns,
      ['First13', 'Last13', 'm13@example.com', 'E13', 'active', 'eligible', 'Paris'],
    ]);
    expect(await read('acme 2023-02-13 profile updates.csv')).toEqual([
      [...columns, 'change_type', 'changed_fields'],
      ['First1', 'Last1', 'x1@example.com', 'E1', 'active', 'eligible', 'Lyon', 'update', 'email;city'],
      ['First2', 'Last2', 'm2@example.com', 'E2', 'inactive', 'eligible', 'Paris', 'deactivation', 'status'],
    ]);
    // deletions list the member's last accepted row
    expect(await read('acme 2023-02-13 profile deletions.csv')).toEqual([
      columns,
      ['First11', 'Last11', 'm11@example.com', 'E11', 'active', 'eligible', 'Paris'],
      ['First12', 'Last12', 'm12@example.com', 'E12', 'active', 'eligible', 'Paris'],
    ]);
    const recorded = await engine.db.pool.query('select kind, row_count from run_files where run_id = $1 order by kind', [summary.runId]);
    expect(recorded.rows).toEqual([
      { kind: 'deletions', row_count: 2 }, { kind: 'invites', row_count: 1 }, { kind: 'updates', row_count: 2 },
    ]);
  });

  it('only the file\'s columns: employee_id appears when the file has it', async () => {
    const header = ['First Name', 'Last Name', 'Email Address'];
    const summary = await ingestFile(engine.ctx, tenantOf(), fileOf('members.csv', csvOf(range(1, 2), header)), { outDir: engine.out });
    expect(summary.key).toBe('email');
    const invites = parse(await readFile(summary.files.invites!, 'utf8')) as string[][];
    expect(invites[0]).toEqual(['first_name', 'last_name', 'email']);
    // no date in the file name: the run date
    expect(path.basename(summary.files.invites!)).toMatch(/^acme \d{4}-\d{2}-\d{2} potential invites\.csv$/);
  });

  it('neutralises cells a spreadsheet would run as formulas', async () => {
    const people = [
      person(1, { first: '=HYPERLINK("http://x")', city: '+33 Paris' }),
      person(2, { first: '-2', city: '@SUM(A1)' }),
      person(3, { first: 'Ann', city: 'Plain, with comma' }),
    ];
    const summary = await ingestFile(engine.ctx, tenantOf(), fileOf('m.csv', csvOf(people)), { outDir: engine.out });
    const rows = parse(await readFile(summary.files.invites!, 'utf8')) as string[][];
    expect(rows.slice(1).map((r) => [r[0], r[6]])).toEqual([
      [`'=HYPERLINK("http://x")`, "'+33 Paris"],
      ["'-2", "'@SUM(A1)"],
      ['Ann', 'Plain, with comma'],
    ]);
  });

  it('a rejected run gets a validation errors file (line, column, value, message), and can be re-rendered', async () => {
    const bad = csvOf([person(1), person(2, { status: 'Active' }), person(3, { email: '=bad' })]);
    const summary = await ingestFile(engine.ctx, tenantOf(), fileOf('acme 2023-03-01.csv', bad), { outDir: engine.out });
    expect(summary.status).toBe('rejected');
    expect(Object.keys(summary.files)).toEqual(['errors']);
    const rows = parse(await readFile(summary.files.errors!, 'utf8')) as string[][];
    expect(rows[0]).toEqual(['line', 'column', 'value', 'message']);
    expect(rows.slice(1).map((r) => [r[0], r[1], r[2]])).toEqual([
      ['3', 'Status', 'Active'],
      ['4', 'Email Address', "'=bad"],
    ]);
    expect(path.basename(summary.files.errors!)).toBe('acme 2023-03-01 validation errors.csv');
    await rm(summary.files.errors!);
    const again = await renderRunFiles(engine.db, summary.runId!, engine.out);
    expect(again.errors).toBe(summary.files.errors);
    expect((parse(await readFile(again.errors!, 'utf8')) as string[][]).length).toBe(3);
  });

  it('duplicates render nothing', async () => {
    await ingestFile(engine.ctx, tenantOf(), fileOf('a.csv', csvOf(range(1, 3))));
    const dup = await ingestFile(engine.ctx, tenantOf(), fileOf('b.csv', csvOf(range(1, 3))), { outDir: engine.out });
    expect(dup.status).toBe('duplicate');
    expect(dup.files).toEqual({});
    expect(await readdir(engine.out)).toEqual([]);
  });
});
