import { existsSync, readFileSync } from 'node:fs';
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

/** A sandbox whose commands use a fresh database of the local PostgreSQL. */
async function withDb(options: Parameters<typeof cliSandbox>[0] = {}): Promise<{ sandbox: CliSandbox; db: TestDatabase }> {
  const db = await freshDatabase();
  cleanups.push(() => db.dispose());
  const sandbox = await cliSandbox({ tenants: [{ id: 'seq', name: 'Sequence Co' }], ...options, databaseUrl: db.url });
  cleanups.push(() => sandbox.dispose());
  return { sandbox, db };
}

beforeAll(() => ensureBuilt(), 180_000);

describe('hris-ingest ingest: sequences against PostgreSQL', { timeout: 120_000 }, () => {
  it('first file -> invites; next file -> updates, deactivation, email change, deletion; then a reactivation', async () => {
    const { sandbox } = await withDb();
    const [first, second, third] = sequence('updates-deletions');

    const one = await sandbox.run('ingest', first!, '--tenant', 'seq', '--json');
    expect(one.code, one.stderr).toBe(0);
    expect(one.json()).toMatchObject({
      tenant: 'seq',
      status: 'accepted',
      rows: 30,
      key: 'employee_id',
      counts: { invites: 28, updates: 0, deletions: 0, notInvitable: 2 },
      errorCount: 0,
    });
    expect(typeof one.json().runId).toBe('number');

    const two = await sandbox.run('ingest', second!, '--tenant', 'seq', '--json');
    expect(two.code, two.stderr).toBe(0);
    const json = two.json();
    expect(json.status).toBe('accepted');
    expect(json.counts).toEqual({ invites: 2, updates: 3, deactivations: 1, reactivations: 0, deletions: 1, unchanged: 24, notInvitable: 1 });
    const out = path.join(sandbox.dir, 'out');
    expect(json.files).toEqual({
      invites: path.join(out, 'seq 2023-02-13 potential invites.csv'),
      updates: path.join(out, 'seq 2023-02-13 profile updates.csv'),
      deletions: path.join(out, 'seq 2023-02-13 profile deletions.csv'),
      errors: null,
    });
    const updates = csvRows(json.files.updates);
    expect(updates.map((r) => r.employee_id).sort()).toEqual(['E1010', 'E1011', 'E1012']);
    expect(updates.find((r) => r.employee_id === 'E1010')?.status).toBe('inactive');
    expect(updates.find((r) => r.employee_id === 'E1011')?.job_function).toBe('Legal');
    expect(updates.find((r) => r.employee_id === 'E1012')?.email).toBe('renamed.member.12@example.com');
    const deletions = csvRows(json.files.deletions);
    expect(deletions).toHaveLength(1);
    expect(deletions[0]).toMatchObject({ employee_id: 'E1005', email: 'farah.kim.5@example.com' });
    expect(csvRows(json.files.invites).map((r) => r.employee_id).sort()).toEqual(['E1030', 'E1031']);

    // The human summary of the same kind of run names the files it wrote.
    const three = await sandbox.run('ingest', third!, '--tenant', 'seq');
    expect(three.code, three.stderr).toBe(0);
    expect(three.stdout).toContain('ACCEPTED');
    expect(three.stdout).toContain('invites 0, updates 1 (deactivations 0, reactivations 1), deletions 0');
    expect(three.stdout).toContain(path.join(out, 'seq 2023-03-13 profile updates.csv'));
    const reactivated = csvRows(path.join(out, 'seq 2023-03-13 profile updates.csv'));
    expect(reactivated.map((r) => [r.employee_id, r.status])).toEqual([['E1010', 'active']]);
  });

  it('a rejected file (exit 2) leaves the snapshot: the next good file diffs against the earlier accepted one', async () => {
    const { sandbox } = await withDb();
    const [good, bad, next] = sequence('rejected');
    expect((await sandbox.run('ingest', good!, '--tenant', 'seq')).code).toBe(0);

    const rejected = await sandbox.run('ingest', bad!, '--tenant', 'seq', '--json');
    expect(rejected.code, rejected.stderr).toBe(2);
    const json = rejected.json();
    expect(json.status).toBe('rejected');
    expect(json.errorCount).toBe(3);
    expect(json.errors.map((e: any) => [e.line, e.column, e.value])).toEqual([
      [4, 'Email Address', 'not-an-email'],
      [7, 'Status', 'Active'],
      [10, 'Hire Start Date', '02/30/2023'],
    ]);
    expect(json.files.errors).toBe(path.join(sandbox.dir, 'out', 'seq 2023-02-13 validation errors.csv'));
    expect(json.files.invites).toBeNull();
    expect(csvRows(json.files.errors)).toHaveLength(3);

    // 02 dropped E1020; had it been applied, 03 (also without E1020) would show no deletion.
    const after = await sandbox.run('ingest', next!, '--tenant', 'seq', '--json');
    expect(after.code, after.stderr).toBe(0);
    expect(after.json().counts).toMatchObject({ invites: 1, deletions: 1, updates: 0 });
    expect(csvRows(after.json().files.deletions).map((r) => r.employee_id)).toEqual(['E1020']);
  });

  it('the same content twice is a duplicate (exit 0) and changes nothing', async () => {
    const { sandbox } = await withDb();
    const [first] = sequence('updates-deletions');
    expect((await sandbox.run('ingest', first!, '--tenant', 'seq')).code).toBe(0);
    const again = await sandbox.run('ingest', first!, '--tenant', 'seq', '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(again.json().status).toBe('duplicate');
    expect(again.json().files).toEqual({ invites: null, updates: null, deletions: null, errors: null });
    const human = await sandbox.run('ingest', first!, '--tenant', 'seq');
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('DUPLICATE');
  });

  it('baseline import, then a first file: members already on the platform are updates, not invites', async () => {
    const { sandbox } = await withDb();
    const [members, file] = sequence('baseline');
    const imported = await sandbox.run('baseline', 'import', members!, '--tenant', 'seq');
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain('10 members');

    const result = await sandbox.run('ingest', file!, '--tenant', 'seq', '--json');
    expect(result.code, result.stderr).toBe(0);
    expect(result.json().counts).toMatchObject({ invites: 2, updates: 2, deletions: 0, unchanged: 8 });
    expect(csvRows(result.json().files.invites).map((r) => r.employee_id).sort()).toEqual(['E1011', 'E1012']);
    expect(csvRows(result.json().files.updates).map((r) => r.employee_id).sort()).toEqual(['E1002', 'E1004']);
  });

  it("a tenant's own headers are mapped by its config; output columns use canonical names", async () => {
    const { sandbox } = await withDb({ tenants: [], repoTenants: ['acme'] });
    const [file] = sequence('acme');
    const result = await sandbox.run('ingest', file!, '--tenant', 'acme', '--json');
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const json = result.json();
    expect(json).toMatchObject({ tenant: 'acme', status: 'accepted', key: 'employee_id', counts: { invites: 7, notInvitable: 1 } });
    expect(json.files.invites).toBe(path.join(sandbox.dir, 'out', 'acme 2023-01-13 potential invites.csv'));
    const invites = csvRows(json.files.invites);
    expect(Object.keys(invites[0]!)).toEqual(
      expect.arrayContaining(['first_name', 'last_name', 'email', 'employee_id', 'status', 'business_unit', 'office_location', 'cost_center']),
    );
    expect(invites[0]).toMatchObject({ employee_id: 'E1001', cost_center: 'CC-100' });
  });

  it('ingest of a missing file, an unknown tenant, an unreachable database: exit 1 with a clear message', async () => {
    const { sandbox } = await withDb();
    const [first] = sequence('updates-deletions');
    const missing = await sandbox.run('ingest', 'no-such-file.csv', '--tenant', 'seq', '--json');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('file not found: no-such-file.csv');

    const unknown = await sandbox.run('ingest', first!, '--tenant', 'globex');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown tenant "globex"');
    expect(unknown.stderr).toContain('(configured: seq)');

    const offline = await cliSandbox({ tenants: [{ id: 'seq' }], databaseUrl: 'postgres://postgres@127.0.0.1:1/none' });
    cleanups.push(() => offline.dispose());
    const down = await offline.run('ingest', first!, '--tenant', 'seq');
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot open the database at DATABASE_URL');
  });

  it('without DATABASE_URL: the embedded database under the data dir keeps the state between commands', async () => {
    const sandbox = await cliSandbox({ tenants: [{ id: 'seq' }] });
    cleanups.push(() => sandbox.dispose());
    sandbox.env.HRIS_DATA_DIR = path.join(sandbox.dir, 'state');
    const [first, second] = sequence('updates-deletions');
    expect((await sandbox.run('ingest', first!, '--tenant', 'seq', '--json')).json().counts.invites).toBe(28);
    const next = await sandbox.run('ingest', second!, '--tenant', 'seq', '--json');
    expect(next.code, next.stderr).toBe(0);
    expect(next.json().counts).toMatchObject({ invites: 2, updates: 3, deletions: 1 });
    expect(existsSync(path.join(sandbox.dir, 'state', 'pg'))).toBe(true);
    const runs = (await sandbox.run('runs', 'list', '--json')).json().runs as unknown[];
    expect(runs).toHaveLength(2);
  }, 120_000);
});
