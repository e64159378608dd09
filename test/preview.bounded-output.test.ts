/**
 * The no-database preview writes its output files as it goes: a file whose every row fails a check (a
 * million "employee_id is required") and a header-only file --against a big previous one (every member
 * deleted) used to buffer every line, then join them into one string.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { previewFile } from '../src/pipeline.js';
import { CsvOut } from '../src/preview/csv-out.js';
import { csvOf, fileOf, HEADER, range, tenantOf } from './pipeline.support.js';

let work: string;
let most = 0;
beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'preview-bounded-'));
  const add = CsvOut.prototype.add;
  vi.spyOn(CsvOut.prototype, 'add').mockImplementation(function (this: CsvOut, cells: readonly string[]) {
    add.call(this, cells);
    most = Math.max(most, this.pending);
  });
});
afterEach(() => {
  most = 0;
});
afterAll(async () => {
  vi.restoreAllMocks();
  await rm(work, { recursive: true, force: true });
});

describe('no-database preview output files', () => {
  it('every previous member deleted (a header-only file --against 20,000 rows): at most 1,000 lines held at once', async () => {
    const previous = fileOf('prev - 01.13.2023.csv', csvOf(range(1, 20_000)));
    const empty = fileOf('next - 02.13.2023.csv', `${HEADER.join(',')}\n`);
    const summary = await previewFile({}, tenantOf({ guardrails: { holdEmptyFile: false } }), empty, { against: previous, outDir: path.join(work, 'a') });
    expect(summary.counts.deletions).toBe(20_000);
    expect((await readFile(summary.files.deletions!, 'utf8')).trimEnd().split('\n')).toHaveLength(20_001);
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(1_001);
  });

  it('every row failing the key check (employee_id key, no employee_id column): at most 1,000 error lines held at once', async () => {
    const noId = HEADER.filter((h) => h !== 'Unique ID');
    const summary = await previewFile({}, tenantOf({ key: 'employee_id' }), fileOf('next - 02.13.2023.csv', csvOf(range(1, 20_000), noId)), { outDir: path.join(work, 'b') });
    expect(summary.errorCount).toBe(20_000);
    expect((await readFile(summary.files.errors!, 'utf8')).trimEnd().split('\n')).toHaveLength(20_001);
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(1_001);
  });
});
