import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tenantConfigSchema, type TenantConfig } from '../src/config/tenant.js';
import { processFile, type ProcessOptions } from '../src/diff/run.js';
import type { MembershipSource, ParsedRow, InvalidRow } from '../src/diff/source.js';
import { transaction } from '../src/store/db.js';
import { loadRunSummary } from '../src/store/runs.js';
import { freshDatabase, type TestDatabase } from './support/db.js';

/** The engine fed rows directly (no CSV): the reader's output shape. */
function source(columns: string[], rows: Record<string, string>[], invalid: InvalidRow[] = []): MembershipSource {
  const parsed: ParsedRow[] = rows.map((values, i) => ({ line: i + 2, values }));
  const sha256 = createHash('sha256').update(JSON.stringify([columns, rows, invalid])).digest('hex');
  return {
    header: Promise.resolve({ columns, warnings: [] }),
    batches: (async function* () {
      for (let i = 0; i < parsed.length; i += 2) yield { rows: parsed.slice(i, i + 2), invalid: [] };
      if (invalid.length) yield { rows: [], invalid };
    })(),
    totals: Promise.resolve({ sha256, bytes: 100, records: rows.length + invalid.length }),
  };
}

const options: ProcessOptions = {
  source: 'local', fileDate: null, lock: true, duplicateCheck: true, force: false, baseline: false,
};

const member = (id: string, extra: Record<string, string> = {}) => ({
  first_name: `F${id}`, last_name: `L${id}`, email: `m${id}@example.com`, employee_id: `E${id}`, status: 'active', ...extra,
});
const COLUMNS = ['first_name', 'last_name', 'email', 'employee_id', 'status'];

describe('engine fed rows directly', () => {
  let db: TestDatabase;
  let tenant: TenantConfig;
  beforeEach(async () => {
    db = await freshDatabase();
    tenant = tenantConfigSchema.parse({ id: 'acme', name: 'Acme' });
  });
  afterEach(async () => db.dispose());

  const run = async (rows: Record<string, string>[], invalid: InvalidRow[] = [], t = tenant) => {
    const { runId } = await transaction(db.pool, (c) => processFile(c, t, 'f.csv', () => source(COLUMNS, rows, invalid), options));
    return loadRunSummary(db.pool, runId);
  };

  it('first file invites, next file updates, deactivates and deletes', async () => {
    const first = await run([member('1'), member('2'), member('3', { status: 'inactive' })]);
    expect(first.status).toBe('accepted');
    expect(first.key).toBe('employee_id');
    expect(first.counts).toMatchObject({ invites: 2, notInvitable: 1, deletions: 0 });
    const second = await run([member('1', { email: 'new1@example.com' }), member('3'), member('4', { status: 'inactive' })]);
    expect(second.status).toBe('accepted');
    expect(second.counts).toMatchObject({ invites: 1, updates: 1, deletions: 1, notInvitable: 1, unchanged: 0 });
    const changes = await db.pool.query('select kind, change_type, member_key, changed_fields from run_changes where run_id = $1 order by kind, member_key', [second.runId]);
    expect(changes.rows).toEqual([
      { kind: 'deletion', change_type: null, member_key: 'E2', changed_fields: null },
      { kind: 'invite', change_type: null, member_key: 'E3', changed_fields: null },
      { kind: 'store', change_type: null, member_key: 'E4', changed_fields: null },
      { kind: 'update', change_type: 'update', member_key: 'E1', changed_fields: ['email'] },
    ]);
  });
});
