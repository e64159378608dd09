import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, truncate } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BENCH_HEADERS, ensureBenchFiles, generateBenchFiles, NEXT_RATES, type BenchFiles } from '../bench/generate.js';
import { defaultTenant } from '../src/config/tenant.js';
import { readMembershipFile } from '../src/csv/read.js';
import { FIELDS } from '../src/fields/fields.js';
import { ingestFile, previewFile, type FileInput } from '../src/pipeline.js';
import { freshDatabase } from './support/db.js';

const ROWS = 3000;
const tenant = defaultTenant('bench');
const input = (file: { path: string; name: string }): FileInput => ({ name: file.name, open: () => createReadStream(file.path) });
const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

/** Reads a file the way the engine does: every row's values by canonical field, and all row issues. */
async function readAll(file: string) {
  const reading = readMembershipFile(createReadStream(file), tenant);
  const rows: Record<string, string>[] = [];
  const issues: string[] = [];
  for await (const batch of reading.batches) {
    for (const row of batch.rows) rows.push(row.values);
    for (const row of batch.invalid) issues.push(...row.issues.map((issue) => `line ${issue.line} ${issue.column}: ${issue.message}`));
  }
  return { header: await reading.header, totals: await reading.totals, rows, issues };
}

describe('benchmark file generator', () => {
  let dir: string;
  let files: BenchFiles;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bench-gen-'));
    files = await generateBenchFiles(path.join(dir, 'a'), ROWS);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('writes the seeds-format files with the dated names, ~163 bytes a row', async () => {
    expect(files.previous.name).toBe('bench 3k - 01.13.2023.csv');
    expect(files.next.name).toBe('bench 3k - 02.13.2023.csv');
    expect(files.previous.rows).toBe(ROWS);
    const bytesPerRow = files.previous.bytes / ROWS;
    expect(bytesPerRow).toBeGreaterThan(150);
    expect(bytesPerRow).toBeLessThan(175);
    const firstLine = (await readFile(files.previous.path, 'utf8')).split('\n', 1)[0];
    expect(firstLine).toBe(BENCH_HEADERS.join(','));
  });

  it('every value is valid per the field spec and all 19 headers map to built-in fields', async () => {
    for (const file of [files.previous, files.next]) {
      const read = await readAll(file.path);
      expect(read.issues).toEqual([]);
      expect(read.totals.fatal).toBeUndefined();
      expect(read.totals.records).toBe(file.rows);
      expect(read.totals.bytes).toBe(file.bytes);
      expect(read.header.warnings).toEqual([]);
      expect(read.header.columns).toEqual(BENCH_HEADERS.map((header) => FIELDS.find((f) => f.display === header)?.name));
      expect(new Set(read.header.columns).size).toBe(19);
      expect(new Set(read.rows.map((row) => row.email)).size).toBe(read.rows.length);
      expect(new Set(read.rows.map((row) => row.employee_id)).size).toBe(read.rows.length);
    }
  });

  it('is deterministic: the same seed gives byte-identical files, another seed different ones', async () => {
    const again = await generateBenchFiles(path.join(dir, 'b'), ROWS);
    expect(await sha256(again.previous.path)).toBe(await sha256(files.previous.path));
    expect(await sha256(again.next.path)).toBe(await sha256(files.next.path));
    const other = await generateBenchFiles(path.join(dir, 'c'), ROWS, 7);
    expect(await sha256(other.previous.path)).not.toBe(await sha256(files.previous.path));
  });

  it('the next file removes, deactivates, changes and adds members at about the configured rates', async () => {
    const before = new Map((await readAll(files.previous.path)).rows.map((row) => [row.employee_id, row]));
    const after = new Map((await readAll(files.next.path)).rows.map((row) => [row.employee_id, row]));
    const removed = [...before.keys()].filter((id) => !after.has(id)).length;
    const added = [...after.keys()].filter((id) => !before.has(id)).length;
    let deactivated = 0;
    let changed = 0;
    for (const [id, row] of after) {
      const old = before.get(id);
      if (!old) continue;
      if (old.status !== 'inactive' && row.status === 'inactive') deactivated++;
      else if (JSON.stringify(old) !== JSON.stringify(row)) changed++;
    }
    expect(added).toBe(Math.round(ROWS * NEXT_RATES.added));
    const near = (count: number, rate: number) => {
      expect(count).toBeGreaterThan(ROWS * rate * 0.6);
      expect(count).toBeLessThan(ROWS * rate * 1.4);
    };
    near(removed, NEXT_RATES.removed);
    near(deactivated, NEXT_RATES.deactivated * 0.9); // only invitable members (~92%) are deactivated
    near(changed, NEXT_RATES.changed);
  });

  it("the engine's preview (no database) reports exactly the diff the generator intended", async () => {
    const summary = await previewFile({ db: undefined }, tenant, input(files.next), { against: input(files.previous) });
    expect(summary.status).toBe('accepted');
    expect(summary.key).toBe('employee_id');
    expect(summary.counts).toMatchObject({ ...files.next.expected, reactivations: 0 });
  }, 180_000); // embedded PGlite starts and migrates in memory first

  it('ingesting previous then next into PostgreSQL gives the generator\'s counts', async () => {
    const db = await freshDatabase();
    try {
      const first = await ingestFile({ db }, tenant, input(files.previous));
      expect(first.status).toBe('accepted');
      expect(first.counts).toMatchObject(files.previous.expected);
      const second = await ingestFile({ db }, tenant, input(files.next));
      expect(second.status).toBe('accepted');
      expect(second.counts).toMatchObject({ ...files.next.expected, reactivations: 0 });
    } finally {
      await db.dispose();
    }
  }, 180_000);

  it('ensureBenchFiles reuses intact files and regenerates a file whose size changed', async () => {
    const target = path.join(dir, 'd');
    const made = await ensureBenchFiles(target, 500);
    expect(made.reused).toBe(false);
    const reused = await ensureBenchFiles(target, 500);
    expect(reused.reused).toBe(true);
    expect(reused.next.path).toBe(made.next.path);
    await truncate(made.next.path, 100);
    const remade = await ensureBenchFiles(target, 500);
    expect(remade.reused).toBe(false);
    expect((await readFile(remade.next.path)).length).toBe(made.next.bytes);
  });
});
