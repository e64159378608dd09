import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tenantConfigSchema, type TenantConfig } from '../src/config/tenant.js';
import { MembershipReader, readMembershipFile } from '../src/csv/read.js';
import {
  applyGuardrails,
  checkFile,
  diffFile,
  loadKnownMembers,
  openRun,
  processFile,
  readAndStage,
  recordRun,
  type ProcessOptions,
} from '../src/diff/run.js';
import type { MembershipSource, ParsedRow } from '../src/diff/source.js';
import { transaction, type Queryable } from '../src/store/db.js';
import { loadRunSummary } from '../src/store/runs.js';
import { freshDatabase, type TestDatabase } from './support/db.js';

/** The engine's and the reader's steps, called by name one at a time (docs/INTERNALS.md). */

const COLUMNS = ['first_name', 'last_name', 'email', 'employee_id', 'status'];
const member = (id: string, extra: Record<string, string> = {}) => ({
  first_name: `F${id}`, last_name: `L${id}`, email: `m${id}@example.com`, employee_id: `E${id}`, status: 'active', ...extra,
});

function source(rows: Record<string, string>[]): MembershipSource {
  const parsed: ParsedRow[] = rows.map((values, i) => ({ line: i + 2, values }));
  const sha256 = createHash('sha256').update(JSON.stringify(rows)).digest('hex');
  return {
    header: Promise.resolve({ columns: COLUMNS, warnings: [] }),
    batches: (async function* () {
      yield { rows: parsed, invalid: [] };
    })(),
    totals: Promise.resolve({ sha256, bytes: 100, records: rows.length }),
  };
}

async function rolledBack<T>(db: TestDatabase, fn: (client: Queryable) => Promise<T>): Promise<T> {
  const client = await db.pool.connect();
  try {
    await client.query('begin');
    return await fn(client);
  } finally {
    await client.query('rollback');
    client.release();
  }
}

const options: ProcessOptions = { source: 'local', fileDate: null, lock: true, duplicateCheck: true, force: false, baseline: false };

describe('processFile, step by step', () => {
  let db: TestDatabase;
  let tenant: TenantConfig;
  beforeEach(async () => {
    db = await freshDatabase();
    tenant = tenantConfigSchema.parse({ id: 'acme', name: 'Acme', guardrails: { maxDeletePercent: 40, maxDeleteCount: 1 } });
  });
  afterEach(async () => db.dispose());

  it('each step hands the next what it needs, and the run comes out as processFile makes it', async () => {
    const first = [member('1'), member('2'), member('3'), member('4')];
    await transaction(db.pool, (c) => processFile(c, tenant, 'first.csv', () => source(first), options));
    // Two of four members gone: 50% deletions, over the 40% guardrail (and the file shrank by half).
    const next = [member('1', { last_name: 'Changed' }), member('3')];

    // The steps in a transaction rolled back (a second held run of the same content would be refused), then processFile.
    const stepwise = await rolledBack(db, async (client) => {
      const run = await openRun(client, tenant, 'next.csv', options);
      expect(run.previous?.file_name).toBe('first.csv');
      const known = await loadKnownMembers(run);
      expect(known?.members.size).toBe(4);
      const staged = await readAndStage(run, known, () => source(next));
      expect(staged.writer.stats.validRows).toBe(2);
      expect(staged.filter?.skipped).toBe(1); // member 3, unchanged, left out of the database work
      const checked = await checkFile(run, staged);
      expect(checked).toEqual({ key: 'employee_id', rows: { valid: 2, invalid: 0, invalidWithoutKey: 0, invalidUnmatched: 0, invalidSharedKey: 0 }, warnings: [] });
      const diff = await diffFile(run, staged, checked);
      expect(diff.counts).toMatchObject({ updates: 1, deletions: 2, unchanged: 1 });
      const verdict = applyGuardrails(run, staged, checked, diff);
      expect(verdict.status).toBe('held');
      expect(verdict.reasons.join(' ')).toMatch(/would delete 2 of 4 members/);
      expect(Object.keys(run.clock.timings)).toEqual(['knownMs', 'readMs', 'stageWaitMs', 'analyzeMs', 'checkMs', 'absentMs', 'diffMs']);
      const { runId } = await recordRun(run, staged, verdict.status, { key: checked.key, counts: diff.counts, reasons: verdict.reasons, warnings: verdict.warnings });
      return loadRunSummary(client, runId);
    });

    const whole = await transaction(db.pool, (c) => processFile(c, tenant, 'next.csv', () => source(next), options));
    const summary = await loadRunSummary(db.pool, whole.runId);
    expect(stepwise.status).toBe('held');
    expect({ ...stepwise, runId: 0 }).toEqual({ ...summary, runId: 0 });
  });
});

describe('readMembershipFile, step by step', () => {
  const tenant = tenantConfigSchema.parse({ id: 'acme', name: 'Acme' });

  it('decode passes the valid bytes before a byte that is not UTF-8, then stops, and the file is still hashed to its end', async () => {
    const reader = new MembershipReader(tenant, {});
    const good = Buffer.from('First Name,Last Name,Email Address\n');
    expect(reader.decode(good)?.toString()).toBe('First Name,Last Name,Email Address\n');
    expect(reader.decode(Buffer.from([0x41, 0xff, 0x0a]))?.toString()).toBe('A');
    expect(reader.decode(Buffer.from('B,C,d@example.com\n'))).toBeNull();
    reader.settle(true);
    const totals = await reader.totals.promise;
    expect(totals.fatal?.message).toMatch(/UTF-8/);
    expect(totals.fatal?.line).toBe(2);
  });

  it('takeHeader maps the first record, takeRow validates into batches of the batch size', async () => {
    const reader = new MembershipReader(tenant, { batchSize: 2 });
    reader.takeHeader(['First Name', 'Last Name', 'Email Address', 'Employee ID', 'Shoe size'], 1);
    const header = await reader.header.promise;
    expect(header.columns).toEqual(['first_name', 'last_name', 'email', 'employee_id']);
    expect(header.warnings.join(' ')).toMatch(/Shoe size/);
    reader.takeRow(['Ann', 'Lee', 'ann@example.com', 'E1', '9'], 2);
    expect(reader.ready).toEqual([]);
    reader.takeRow(['Bob', 'Ray', 'not an email', 'E2', '10'], 3);
    expect(reader.ready).toHaveLength(1);
    expect(reader.ready[0]!.rows.map((r) => r.line)).toEqual([2]);
    expect(reader.ready[0]!.invalid.map((r) => [r.line, r.issues[0]!.column])).toEqual([[3, 'Email Address']]);
  });

  it('the steps together are readMembershipFile', async () => {
    const text = 'First Name,Last Name,Email Address\r\nAnn,Lee,ann@example.com\r\nBob,Ray,bob@example.com\r\n';
    const reading = readMembershipFile(Readable.from([Buffer.from(text)]), tenant, {});
    const batches = [];
    for await (const batch of reading.batches) batches.push(batch);
    const reader = new MembershipReader(tenant, {});
    reader.feed(Buffer.from(text));
    reader.end();
    reader.settle(true);
    expect(reader.ready).toEqual(batches);
    expect(await reader.totals.promise).toEqual(await reading.totals);
  });
});
