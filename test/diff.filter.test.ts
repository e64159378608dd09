import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tenantConfigSchema, type TenantConfig } from '../src/config/tenant.js';
import { processFile, type ProcessOptions } from '../src/diff/run.js';
import type { MembershipSource, ReadBatch } from '../src/diff/source.js';
import { transaction } from '../src/store/db.js';
import { storedRowSql } from '../src/store/member-rows.js';
import { loadRunSummary } from '../src/store/runs.js';
import { freshDatabase, type TestDatabase } from './support/db.js';

/**
 * The engine leaves unchanged rows of members on the platform out of the database (src/diff/filter.ts).
 * These tests run the same files through two tenants, one with the filter and one without, and require
 * the same runs, errors, changes and stored state, on hand-made edge cases and on random sequences.
 */

type Entry = { values: Record<string, string>; invalid?: string };

const COLUMNS = ['first_name', 'last_name', 'email', 'employee_id', 'status', 'city'];

let fileCounter = 0;
function source(entries: Entry[], columns = COLUMNS): MembershipSource {
  const sha256 = `test-${++fileCounter}`;
  return {
    header: Promise.resolve({ columns, warnings: [] }),
    batches: (async function* () {
      let batch: ReadBatch = { rows: [], invalid: [] };
      for (const [i, entry] of entries.entries()) {
        const line = i + 2;
        if (entry.invalid) batch.invalid.push({ line, values: entry.values, issues: [{ line, column: 'City', value: entry.values.city ?? '', message: entry.invalid }] });
        else batch.rows.push({ line, values: entry.values });
        if (batch.rows.length + batch.invalid.length === 3) {
          yield batch;
          batch = { rows: [], invalid: [] };
        }
      }
      if (batch.rows.length + batch.invalid.length > 0) yield batch;
    })(),
    totals: Promise.resolve({ sha256, bytes: 100, records: entries.length }),
  };
}

const OPTIONS: ProcessOptions = { source: 'local', fileDate: null, lock: true, duplicateCheck: true, force: false, baseline: false };

const member = (n: number, extra: Record<string, string> = {}): Record<string, string> => ({
  first_name: `F${n}`, last_name: `L${n}`, email: `m${n}@example.com`, employee_id: `E${n}`, status: 'active', city: 'Paris', ...extra,
});
const rows = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => ({ values: member(from + i) }));

describe('leaving unchanged rows out of the database changes nothing in the result', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await freshDatabase();
  });
  afterEach(async () => db.dispose());

  const tenants = (overrides: Record<string, unknown> = {}): [TenantConfig, TenantConfig] => [
    tenantConfigSchema.parse({ id: 'filtered', name: 'F', ...overrides }),
    tenantConfigSchema.parse({ id: 'plain', name: 'P', ...overrides }),
  ];

  /** Everything a run leaves behind, without ids that differ between the two tenants. */
  async function outcome(runId: number, tenantId: string) {
    const summary = await loadRunSummary(db.pool, runId);
    const errors = await db.pool.query('select seq, line, column_name, value, message from run_errors where run_id = $1 order by seq', [runId]);
    const changes = await db.pool.query(
      'select kind, change_type, member_key, line, data, row_hash, changed_fields from run_changes where run_id = $1 order by kind, member_key',
      [runId],
    );
    const members = await db.pool.query(
      `select m.member_key, m.email, m.employee_id, m.row_hash, m.on_platform, ${storedRowSql('m')} as data
       from members m where m.tenant_id = $1 order by m.member_key`,
      [tenantId],
    );
    return {
      status: summary.status, key: summary.key, rows: summary.rows, counts: summary.counts, errorCount: summary.errorCount,
      reasons: summary.reasons, warnings: summary.warnings,
      errors: errors.rows, changes: changes.rows, members: members.rows,
    };
  }

  /** Runs FILES through both tenants; returns the filtered tenant's outcomes after checking they match. */
  async function both(files: Entry[][], overrides: Record<string, unknown> = {}, columns = COLUMNS) {
    const [filtered, plain] = tenants(overrides);
    const results = [];
    for (const entries of files) {
      const a = await transaction(db.pool, (c) => processFile(c, filtered, 'f.csv', () => source(entries, columns), OPTIONS));
      const b = await transaction(db.pool, (c) => processFile(c, plain, 'f.csv', () => source(entries, columns), { ...OPTIONS, leaveOutUnchanged: false }));
      const left = await outcome(a.runId, filtered.id);
      const right = await outcome(b.runId, plain.id);
      expect(left).toEqual(right);
      expect(b.leftOut).toBe(0);
      results.push({ ...left, leftOut: a.leftOut });
    }
    return results;
  }

  it('an unchanged file: every row left out, unchanged or not invitable, nothing deleted', async () => {
    const file = [...rows(1, 30), { values: member(31, { status: 'inactive' }) }];
    const [, second] = await both([file, [...file]]);
    expect(second!.status).toBe('accepted');
    expect(second!.leftOut).toBe(31);
    expect(second!.counts).toMatchObject({ unchanged: 30, notInvitable: 1, deletions: 0, updates: 0, invites: 0 });
    expect(second!.changes).toEqual([]);
  });

  it('a repeated employee_id of a row left out: both lines are errors', async () => {
    const [, second] = await both([rows(1, 10), [...rows(1, 10), { values: member(3, { email: 'other@example.com' }) }]]);
    expect(second!.status).toBe('rejected');
    expect(second!.errors.map((e) => e.line).sort((x, y) => x - y)).toEqual([4, 12]);
    expect(second!.leftOut).toBe(9); // row 3 was recalled
  });

  it('an exact copy of an unchanged row later in the file: both lines are errors', async () => {
    const [, second] = await both([rows(1, 10), [...rows(1, 10), { values: member(5) }]]);
    expect(second!.errors.filter((e) => e.column_name === 'employee_id').map((e) => e.line)).toEqual([6, 12]);
    expect(second!.errors.filter((e) => e.column_name === 'email').map((e) => e.line)).toEqual([6, 12]);
  });

  it('a new member with the email of an unchanged one, before and after it', async () => {
    const after = [...rows(1, 10), { values: member(11, { email: 'm4@example.com' }) }];
    const before = [{ values: member(12, { email: 'M7@example.com' }) }, ...rows(1, 10)];
    const [, a, b] = await both([rows(1, 10), after, before]);
    expect(a!.errors.map((e) => e.line)).toEqual([5, 12]);
    expect(b!.errors.map((e) => e.line)).toEqual([2, 9]);
  });

  it('three rows sharing an email, under the email key, with employee_id watched', async () => {
    const third = [...rows(1, 6), { values: member(20, { email: 'm2@example.com', employee_id: 'E2' }) }, { values: member(21, { email: 'm2@example.com' }) }];
    const [, second] = await both([rows(1, 6), third], { key: 'email' });
    expect(second!.key).toBe('email');
    expect(second!.errorCount).toBeGreaterThanOrEqual(4);
  });

  it('skip policy: an invalid row of an unchanged member carries it; a duplicate of a left-out row invalidates both', async () => {
    const next = [...rows(1, 8), { values: member(9), invalid: 'city is broken' }, { values: member(2, { city: 'Lyon' }) }];
    const [, second] = await both([rows(1, 10), next], { invalidRows: 'skip' });
    expect(second!.status).toBe('accepted');
    expect(second!.counts.deletions).toBe(1); // member 10 only: 9 is carried, 2 is invalid twice over
    expect(second!.members.map((m) => m.member_key)).toContain('E9');
  });

  it('an invalid row repeating the key of a left-out row', async () => {
    const next = [...rows(1, 10), { values: member(4, { city: '' }), invalid: 'city is broken' }];
    await both([rows(1, 10), next], { invalidRows: 'skip' });
  });

  it('members not on the platform and other columns take the field-by-field path', async () => {
    const first = [...rows(1, 5), { values: member(6, { status: 'inactive' }) }];
    const next = [...rows(1, 5), { values: member(6, { status: 'inactive' }) }];
    await both([first, next, next.map((e) => ({ values: { ...e.values, city: 'Paris' } }))]);
    await both([first, next], {}, ['first_name', 'last_name', 'email', 'employee_id', 'status', 'city']);
  });

  it('a changed key setting: rows are matched by the new key before the store is re-keyed, recalls included', async () => {
    await both([rows(1, 10)], { key: 'email' });
    const [rekeyed] = await both([[...rows(1, 10), { values: member(6, { email: 'six@example.com' }) }]], { key: 'employee_id' });
    expect(rekeyed!.status).toBe('rejected'); // E6 twice
    expect(rekeyed!.errors.map((e) => e.line)).toEqual([7, 12]);
    const [accepted] = await both([[...rows(1, 9), { values: member(10, { city: 'Lyon' }) }]], { key: 'employee_id' });
    expect(accepted!.key).toBe('employee_id');
    expect(accepted!.leftOut).toBe(9);
    expect(accepted!.members.map((m) => m.member_key)).toContain('E10');
  });

  it('hashes stored by an earlier version (md5) are refreshed by the next file, which then leaves rows out', async () => {
    const [filtered] = tenants();
    const ingest = (entries: Entry[]) => transaction(db.pool, (c) => processFile(c, filtered, 'f.csv', () => source(entries), OPTIONS));
    await ingest(rows(1, 12));
    await db.pool.query(`update members set row_hash = md5(member_key) where tenant_id = 'filtered'`);
    const refreshed = await ingest(rows(1, 12));
    expect(refreshed.leftOut).toBe(0);
    const summary = await loadRunSummary(db.pool, refreshed.runId);
    expect(summary.status).toBe('accepted');
    expect(summary.counts).toMatchObject({ unchanged: 12, updates: 0, invites: 0, deletions: 0 });
    const hashes = await db.pool.query<{ row_hash: string }>(`select row_hash from members where tenant_id = 'filtered'`);
    expect(hashes.rows.every((r) => /^[0-9a-f]{16}$/.test(r.row_hash))).toBe(true);
    const third = await ingest([...rows(1, 11), { values: member(12, { city: 'Lyon' }) }]);
    expect(third.leftOut).toBe(11);
    expect((await loadRunSummary(db.pool, third.runId)).counts).toMatchObject({ unchanged: 11, updates: 1 });
  });

  it('random sequences of files agree', async () => {
    let seed = 20261123;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const pick = <T,>(list: T[]) => list[Math.floor(random() * list.length)]!;
    const seen = { accepted: 0, rejected: 0, leftOut: 0, unchanged: 0, updates: 0, deletions: 0, errors: 0 };
    for (const overrides of [{}, { key: 'email' }, { invalidRows: 'skip' }, { key: 'email', invalidRows: 'skip', guardrails: { maxDeletePercent: 100 } }]) {
      let people = Array.from({ length: 40 }, (_, i) => member(i + 1, { status: random() < 0.15 ? 'inactive' : 'active' }));
      let next = 100;
      const files: Entry[][] = [];
      for (let round = 0; round < 5; round++) {
        files.push(people.map((values) => ({ values })));
        // the same members with a few repeated keys and emails, copies and invalid rows, anywhere in the file
        const noisy: Entry[] = people.map((values) => ({ values }));
        for (let k = 0; k < 4; k++) {
          const at = Math.floor(random() * (noisy.length + 1));
          const base = pick(people);
          const kind = pick(['copy', 'email', 'id', 'invalid', 'invalid-new', 'new']);
          const values =
            kind === 'copy' ? { ...base }
            : kind === 'email' ? member(next++, { email: base.email!.toUpperCase() })
            : kind === 'id' ? member(next++, { employee_id: base.employee_id! })
            : kind === 'invalid' ? { ...base, city: '??' }
            : member(next++);
          noisy.splice(at, 0, { values, ...(kind.startsWith('invalid') ? { invalid: 'city is broken' } : {}) });
        }
        files.push(noisy);
        // the next file: some leave, some change, some arrive, some change status
        people = people
          .filter(() => random() > 0.05)
          .map((p) => (random() < 0.1 ? { ...p, city: pick(['Lyon', 'Nice', 'Paris']) } : random() < 0.08 ? { ...p, status: p.status === 'active' ? 'inactive' : 'active' } : p))
          .concat(Array.from({ length: 3 }, () => member(next++)));
      }
      for (const result of await both(files, overrides)) {
        if (result.status === 'accepted') seen.accepted++;
        if (result.status === 'rejected') seen.rejected++;
        seen.leftOut += result.leftOut;
        seen.unchanged += result.counts.unchanged;
        seen.updates += result.counts.updates;
        seen.deletions += result.counts.deletions;
        seen.errors += result.errorCount;
      }
      await db.pool.query(`delete from run_errors; delete from run_changes; delete from runs; delete from member_rows; delete from members; delete from tenants`);
    }
    // the sequences exercised every path
    for (const [what, n] of Object.entries(seen)) expect(n, what).toBeGreaterThan(0);
  });
});
