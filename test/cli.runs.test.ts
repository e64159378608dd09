import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { cliSandbox, ensureBuilt, sequence, type CliSandbox } from './support/cli.js';

function csvRows(file: string): Record<string, string>[] {
  return parse(readFileSync(file), { columns: true, bom: true }) as Record<string, string>[];
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** The same rows with LF line ends: other content (not a duplicate), same members. */
function lfCopy(file: string, dir: string): string {
  const copy = path.join(dir, `lf ${path.basename(file)}`);
  writeFileSync(copy, readFileSync(file, 'utf8').replace(/\r\n/g, '\n'));
  return copy;
}

async function withDb(): Promise<{ sandbox: CliSandbox; db: TestDatabase }> {
  const db = await freshDatabase();
  cleanups.push(() => db.dispose());
  const sandbox = await cliSandbox({ tenants: [{ id: 'seq', name: 'Sequence Co' }], databaseUrl: db.url });
  cleanups.push(() => sandbox.dispose());
  return { sandbox, db };
}

/** Ingests the mass-deletion sequence: 60 members, then 20 of them (held). Returns the held run id. */
async function heldMassDeletion(sandbox: CliSandbox): Promise<number> {
  const [first, second] = sequence('mass-deletion');
  expect((await sandbox.run('ingest', first!, '--tenant', 'seq')).code).toBe(0);
  const held = await sandbox.run('ingest', second!, '--tenant', 'seq', '--json');
  expect(held.code, held.stdout + held.stderr).toBe(3);
  const json = held.json();
  expect(json.status).toBe('held');
  expect(json.counts.deletions).toBe(40);
  expect(json.reasons.join(' ')).toMatch(/delet/i);
  return json.runId as number;
}

beforeAll(() => ensureBuilt(), 180_000);

describe('held runs: runs approve / runs reject', { timeout: 120_000 }, () => {
  it('a mass deletion is held (exit 3); runs approve applies it and writes its files', async () => {
    const { sandbox, db } = await withDb();
    const runId = await heldMassDeletion(sandbox);

    const shown = await sandbox.run('runs', 'show', String(runId), '--json');
    expect(shown.code).toBe(3);
    expect(shown.json()).toMatchObject({ runId, status: 'held', counts: { deletions: 40 } });

    const approved = await sandbox.run('runs', 'approve', String(runId), '--by', 'ops-jane', '--json');
    expect(approved.code, approved.stdout + approved.stderr).toBe(0);
    const json = approved.json();
    expect(json).toMatchObject({ runId, status: 'accepted', counts: { deletions: 40 } });
    expect(json.reasons.join(' ')).toContain('ops-jane');
    expect(json.files.deletions).toBe(path.join(sandbox.dir, 'out', 'seq 2023-02-13 profile deletions.csv'));
    expect(csvRows(json.files.deletions)).toHaveLength(40);

    // Applied: the state is now the 20-member file (previewing its rows again changes nothing) ...
    const [, second] = sequence('mass-deletion');
    const again = await sandbox.run('preview', lfCopy(second!, sandbox.dir), '--tenant', 'seq', '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(again.json()).toMatchObject({ status: 'accepted', counts: { invites: 0, updates: 0, deletions: 0, unchanged: 20 } });
    // ... and previewing the very same file says it is a duplicate.
    const same = await sandbox.run('preview', second!, '--tenant', 'seq', '--json');
    expect(same.code, same.stderr).toBe(0);
    expect(same.json().status).toBe('duplicate');

    // A run that is no longer held cannot be approved again.
    const twice = await sandbox.run('runs', 'approve', String(runId));
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain(`run ${runId} is accepted`);
    // the decision is in the console's audit log, as a decision there is; the refused one is not
    const audit = await db.pool.query(`select actor, action, detail from console_audit order by id`);
    expect(audit.rows).toEqual([{ actor: 'cli:ops-jane', action: 'approve', detail: `run ${runId} (seq)` }]);
  });

  it('runs reject keeps the snapshot; the run shows as rejected with who and why', async () => {
    const { sandbox, db } = await withDb();
    const runId = await heldMassDeletion(sandbox);

    const rejected = await sandbox.run('runs', 'reject', String(runId), '--by', 'ops-jane', '--reason', 'export was truncated', '--json');
    expect(rejected.code, rejected.stdout + rejected.stderr).toBe(0);
    expect(rejected.json()).toMatchObject({ runId, status: 'rejected' });
    expect(rejected.json().reasons.join(' ')).toContain('export was truncated');

    const shown = await sandbox.run('runs', 'show', String(runId));
    expect(shown.code).toBe(2);
    expect(shown.stdout).toContain('REJECTED');
    expect(shown.stdout).toContain('ops-jane');
    const audit = await db.pool.query(`select actor, action, detail from console_audit order by id`);
    expect(audit.rows).toEqual([{ actor: 'cli:ops-jane', action: 'reject', detail: `run ${runId} (seq): export was truncated` }]);

    // The snapshot is still the 60-member file: previewing it against the stored state changes nothing.
    const [first] = sequence('mass-deletion');
    const preview = await sandbox.run('preview', lfCopy(first!, sandbox.dir), '--tenant', 'seq', '--json');
    expect(preview.code, preview.stderr).toBe(0);
    expect(preview.json()).toMatchObject({ status: 'accepted', counts: { invites: 0, updates: 0, deletions: 0, unchanged: 60 } });
  });
});

describe('runs list / show, preview against stored state, purge', { timeout: 120_000 }, () => {
  it('lists runs newest first, filters by tenant, and preview stores nothing', async () => {
    const { sandbox } = await withDb();
    const [first, second] = sequence('updates-deletions');
    expect((await sandbox.run('ingest', first!, '--tenant', 'seq')).code).toBe(0);

    // Preview against the stored state of the tenant: the diff of 02 against 01, nothing stored.
    const preview = await sandbox.run('preview', second!, '--tenant', 'seq', '--json');
    expect(preview.code, preview.stderr).toBe(0);
    expect(preview.json().counts).toMatchObject({ invites: 2, updates: 3, deletions: 1 });

    const listed = await sandbox.run('runs', 'list', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    const runs = listed.json().runs as Array<Record<string, any>>;
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ tenant: 'seq', file: path.basename(first!), status: 'accepted', rows: 30 });

    expect((await sandbox.run('ingest', second!, '--tenant', 'seq')).code).toBe(0);
    const two = (await sandbox.run('runs', 'list', '--tenant', 'seq', '--json')).json().runs as Array<Record<string, any>>;
    expect(two.map((r) => r.file)).toEqual([path.basename(second!), path.basename(first!)]);
    const limited = (await sandbox.run('runs', 'list', '--limit', '1', '--json')).json().runs as unknown[];
    expect(limited).toHaveLength(1);
    const other = (await sandbox.run('runs', 'list', '--tenant', 'other', '--json')).json().runs as unknown[];
    expect(other).toHaveLength(0);

    const human = await sandbox.run('runs', 'list');
    expect(human.code).toBe(0);
    expect(human.stdout.split('\n')[0]).toMatch(/^id\s+when/);
    expect(human.stdout).toContain(path.basename(second!));

    const shown = await sandbox.run('runs', 'show', String(two[0]!.id), '--json');
    expect(shown.code).toBe(0);
    expect(shown.json()).toMatchObject({ runId: two[0]!.id, status: 'accepted', counts: { invites: 2, deletions: 1 } });
    expect(shown.json().files.updates).toBe(path.join(sandbox.dir, 'out', 'seq 2023-02-13 profile updates.csv'));

    const missing = await sandbox.run('runs', 'show', '9999');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('run 9999 not found');
    // an id past what a number holds exactly is refused by the argument check, not by PostgreSQL
    const huge = await sandbox.run('runs', 'show', '99999999999999999999');
    expect(huge.code).toBe(1);
    expect(huge.stderr).toContain('expected a positive whole number of at most 9007199254740991');
    expect(huge.stderr).not.toContain('bigint');
  });

  it('a file name with escape sequences and a line break prints as escapes in ingest and runs list, one line each', async () => {
    const { sandbox } = await withDb();
    const [first] = sequence('updates-deletions');
    const hostile = path.join(sandbox.dir, 'x\u001b[2J\nACCEPTED\u001b]8;;http:evil\u0007 - 01.13.2023.csv');
    writeFileSync(hostile, readFileSync(first!));
    const ingested = await sandbox.run('ingest', hostile, '--tenant', 'seq');
    expect(ingested.code, ingested.stderr).toBe(0);
    const listed = await sandbox.run('runs', 'list');
    expect(listed.code).toBe(0);
    for (const out of [ingested.stdout, listed.stdout]) {
      expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      expect(out).toContain('x\\x1b[2J\\nACCEPTED\\x1b]8;;http:evil\\x07 - 01.13.2023.csv');
    }
    expect(listed.stdout.trimEnd().split('\n')).toHaveLength(2); // the header and the run
    // --json keeps the name as it is
    expect((await sandbox.run('runs', 'list', '--json')).json().runs[0].file).toBe(path.basename(hostile));
  });

  it('purge removes the change records of runs older than --days, keeping the run history', async () => {
    const { sandbox, db } = await withDb();
    const [first] = sequence('updates-deletions');
    const ingested = await sandbox.run('ingest', first!, '--tenant', 'seq', '--json');
    const runId = ingested.json().runId as number;
    const changes = async () => Number((await db.pool.query('select count(*) from run_changes where run_id = $1', [runId])).rows[0].count);
    expect(await changes()).toBeGreaterThan(0);

    const recent = await sandbox.run('purge', '--days', '30');
    expect(recent.code, recent.stderr).toBe(0);
    expect(await changes()).toBeGreaterThan(0);
    expect(existsSync(ingested.json().files.invites)).toBe(true);

    await db.pool.query("update runs set created_at = now() - interval '40 days', finished_at = now() - interval '40 days' where id = $1", [runId]);
    const old = await sandbox.run('purge', '--days', '30');
    expect(old.code, old.stderr).toBe(0);
    expect(await changes()).toBe(0);
    // Its rendered files went with it.
    expect(existsSync(ingested.json().files.invites)).toBe(false);
    const listed = (await sandbox.run('runs', 'list', '--json')).json().runs as unknown[];
    expect(listed).toHaveLength(1);

    const bad = await sandbox.run('purge', '--days', '0');
    expect(bad.code).toBe(1);
  });
});
