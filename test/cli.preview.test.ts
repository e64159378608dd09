import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliSandbox, ensureBuilt, sequence, type CliSandbox } from './support/cli.js';

const [first, second] = sequence('updates-deletions');
const [, invalid] = sequence('rejected');

function csvRows(file: string): Record<string, string>[] {
  return parse(readFileSync(file), { columns: true, bom: true }) as Record<string, string>[];
}

let sandbox: CliSandbox;

beforeAll(async () => {
  ensureBuilt();
  // No DATABASE_URL: preview must work with no database at all.
  sandbox = await cliSandbox({ tenants: [{ id: 'seq' }] });
}, 180_000);
afterAll(() => sandbox?.dispose());

describe('hris-ingest preview (no database configured)', { timeout: 120_000 }, () => {
  it('previews a valid first file: everything invitable is an invite, JSON on the last line', async () => {
    const result = await sandbox.run('preview', first!, '--json');
    expect(result.code, result.stderr).toBe(0);
    const json = result.json();
    expect(Object.keys(json).filter((k) => k !== 'runId').sort()).toEqual(
      ['counts', 'errorCount', 'errors', 'file', 'files', 'key', 'reasons', 'rows', 'status', 'tenant', 'warnings'].sort(),
    );
    expect(json).toMatchObject({
      tenant: 'preview',
      file: path.basename(first!),
      status: 'accepted',
      rows: 30,
      key: 'employee_id',
      counts: { invites: 28, updates: 0, deactivations: 0, reactivations: 0, deletions: 0, notInvitable: 2 },
      errors: [],
      errorCount: 0,
      reasons: [],
    });
    expect(Array.isArray(json.warnings)).toBe(true);
    expect(Object.keys(json.files).sort()).toEqual(['deletions', 'errors', 'invites', 'updates']);
    // Default --out is ./out of the working directory; names carry tenant and file date.
    expect(json.files.invites).toBe(path.join(sandbox.dir, 'out', 'preview 2023-01-13 potential invites.csv'));
    const invites = csvRows(json.files.invites);
    expect(invites).toHaveLength(28);
    expect(invites[0]).toHaveProperty('email');
    expect(invites[0]).toHaveProperty('employee_id');
    expect(invites.map((r) => r.employee_id)).not.toContain('E1029'); // inactive: not invitable
    expect(invites.map((r) => r.employee_id)).not.toContain('E1030'); // ineligible
  });

  it('with --tenant uses that tenant\'s config (and still no database)', async () => {
    const result = await sandbox.run('preview', first!, '--tenant', 'seq', '--json', '--out', 'seq-out');
    expect(result.code, result.stderr).toBe(0);
    const json = result.json();
    expect(json.tenant).toBe('seq');
    expect(json.counts.invites).toBe(28);
    expect(json.files.invites).toBe(path.join(sandbox.dir, 'seq-out', 'seq 2023-01-13 potential invites.csv'));
    expect(existsSync(json.files.invites)).toBe(true);
  });

  it('--against PREVIOUS diffs the file against PREVIOUS treated as a first file', async () => {
    const result = await sandbox.run('preview', second!, '--against', first!, '--json');
    expect(result.code, result.stderr).toBe(0);
    const json = result.json();
    expect(json.status).toBe('accepted');
    expect(json.counts).toEqual({ invites: 2, updates: 3, deactivations: 1, reactivations: 0, deletions: 1, unchanged: 24, notInvitable: 1 });
    const deletions = csvRows(json.files.deletions);
    expect(deletions.map((r) => r.employee_id)).toEqual(['E1005']);
    const updates = csvRows(json.files.updates);
    expect(updates.map((r) => r.employee_id).sort()).toEqual(['E1010', 'E1011', 'E1012']);
    // Under the employee_id key an email change is an update, not a deletion + invite.
    expect(updates.find((r) => r.employee_id === 'E1012')?.email).toBe('renamed.member.12@example.com');
    const invites = csvRows(json.files.invites);
    expect(invites.map((r) => r.employee_id).sort()).toEqual(['E1030', 'E1031']);
  });

  it('rejects an invalid sample with exit 2 and each error\'s line, column, value and reason', async () => {
    const result = await sandbox.run('preview', invalid!, '--json');
    expect(result.code, result.stdout + result.stderr).toBe(2);
    const json = result.json();
    expect(json.status).toBe('rejected');
    expect(json.errorCount).toBe(3);
    const byLine = new Map<number, { column: string; value: string; message: string }>(json.errors.map((e: any) => [e.line, e]));
    // Columns as the customer's file names them, so their ETL engineer can find the cell.
    expect(byLine.get(4)).toMatchObject({ column: 'Email Address', value: 'not-an-email' });
    expect(byLine.get(4)!.message).toMatch(/email/i);
    expect(byLine.get(7)).toMatchObject({ column: 'Status', value: 'Active' });
    expect(byLine.get(7)!.message).toMatch(/case-sensitive/i);
    expect(byLine.get(10)).toMatchObject({ column: 'Hire Start Date', value: '02/30/2023' });
    expect(byLine.get(10)!.message).toMatch(/MM\/DD\/YYYY|calendar date/);
    expect(json.files.errors).toBe(path.join(sandbox.dir, 'out', 'preview 2023-02-13 validation errors.csv'));
    const errors = csvRows(json.files.errors);
    expect(errors.map((e) => e.line)).toEqual(['4', '7', '10']);
  });

  it('prints a human summary without --json', async () => {
    const result = await sandbox.run('preview', invalid!);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain('REJECTED');
    expect(result.stdout).toMatch(/line 4, column Email Address, value "not-an-email": .+/);
    expect(result.stdout).toContain('validation errors.csv');
    expect(() => JSON.parse(result.stdout.trim().split('\n').pop()!)).toThrow();
  });

  it('an empty file is held (exit 3) with the reason', async () => {
    const { writeFile } = await import('node:fs/promises');
    const empty = path.join(sandbox.dir, 'empty - 01.13.2023.csv');
    await writeFile(empty, 'First Name,Last Name,Email Address\r\n');
    const result = await sandbox.run('preview', empty, '--json');
    expect(result.code, result.stdout + result.stderr).toBe(3);
    expect(result.json().status).toBe('held');
    expect(result.json().reasons.join(' ')).toMatch(/no member rows/i);
  });
});

describe('hris-ingest usage errors (exit 1)', { timeout: 120_000 }, () => {
  it('an invalid PREVIOUS file cannot be the base of a preview: exit 1 naming its errors', async () => {
    const [, , third] = sequence('rejected');
    const result = await sandbox.run('preview', third!, '--against', invalid!, '--json');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(path.basename(invalid!));
    expect(result.stderr).toMatch(/line 4, Email Address/);
  });

  it('a missing file', async () => {
    const result = await sandbox.run('preview', path.join(sandbox.dir, 'nope.csv'), '--json');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('file not found');
    expect(result.stdout).toBe('');
  });

  it('an unknown tenant, naming the config file to add', async () => {
    const result = await sandbox.run('preview', first!, '--tenant', 'nobody');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('unknown tenant "nobody"');
    expect(result.stderr).toContain(path.join('tenants', 'nobody.yaml'));
  });

  it('ingest without --tenant, an unknown option, an unknown command, a missing argument', async () => {
    for (const args of [['ingest', first!], ['preview', first!, '--bogus'], ['frobnicate'], ['preview'], ['runs', 'list', '--limit', 'x']]) {
      const result = await sandbox.run(...args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr, args.join(' ')).toMatch(/error/);
    }
  });

  it('a broken tenant config names the file and the path in it', async () => {
    const broken = await cliSandbox({ tenants: [{ id: 'bad', key: 'phone' }] });
    try {
      const result = await broken.run('preview', first!, '--tenant', 'bad');
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('bad.yaml');
      expect(result.stderr).toMatch(/key/);
    } finally {
      await broken.dispose();
    }
  });
});
