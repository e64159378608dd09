import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { gunzipSync } from 'node:zlib';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readMembershipFile, type ReadOptions, type ReadTotals, type ValidationIssue } from '../src/csv/read.js';
import { ingestFile, type RunSummary } from '../src/pipeline.js';
import { lastAcceptedRun } from '../src/store/runs.js';
import { BIG, BLANK_LINES, INVALID_ROWS, SMALL, validCsv } from '../fixtures/bad/generate.js';
import { fileOf, membersOf, tenantOf } from './pipeline.support.js';
import { freshDatabase, type TestDatabase } from './support/db.js';

/**
 * The hostile-input corpus (fixtures/bad/, docs/spec.md "Hostile input"): every file is rejected (or held)
 * with a reason that names what is wrong, the reader's memory stays bounded and it stops parsing at the
 * first fatal problem, and nothing of the tenant's state moves.
 */

const BAD = path.resolve(import.meta.dirname, '../fixtures/bad');

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Expected {
  /** The reader's fatal problem (file-level), or none. */
  fatal?: { message: RegExp; line?: number; value?: string; column?: string };
  /** Lines of the invalid rows and what their issues say (row-level problems). */
  invalid?: { lines: number[] | { count: number; first: number[] }; message: RegExp };
  /** Data rows the reader saw before it stopped (totals.records; default 0): the parsing stops at a fatal problem. */
  records?: number;
  /** Valid rows delivered (default 0). */
  valid?: number;
  /** What the pipeline makes of it against a tenant with 30 accepted members. */
  run: { status: 'rejected' | 'held'; reason: RegExp; errorCount?: number; errorLines?: number[] };
  /** Peak live heap growth allowed while reading (MiB), for the big files. */
  heapMiB?: number;
}

const UTF16 = /the file is UTF-16 encoded.*: save it as CSV UTF-8/;
const CORPUS: Record<string, Expected> = {
  'random-bytes.csv': { fatal: { message: /^the file is not valid UTF-8: byte 0x.. on line 1 \(export the file as UTF-8\)$/, line: 1 }, run: { status: 'rejected', reason: /not valid UTF-8/ } },
  'gzip-compressed.csv': { fatal: { message: /^the file is a gzip-compressed file, not CSV: upload it uncompressed/, value: '0x1F 0x8B' }, run: { status: 'rejected', reason: /gzip-compressed/ } },
  'excel-workbook.csv': { fatal: { message: /^the file is an Excel workbook \(.xlsx\), not CSV: save it as CSV UTF-8$/, value: '0x50 0x4B 0x03 0x04' }, run: { status: 'rejected', reason: /Excel workbook/ } },
  'utf16le-bom.csv': { fatal: { message: /^the file is UTF-16 encoded: save it as CSV UTF-8$/, value: '0xFF 0xFE' }, run: { status: 'rejected', reason: UTF16 } },
  'utf16be-bom.csv': { fatal: { message: /^the file is UTF-16 encoded: save it as CSV UTF-8$/, value: '0xFE 0xFF' }, run: { status: 'rejected', reason: UTF16 } },
  'utf16le-no-bom.csv': { fatal: { message: /UTF-16 encoded \(little-endian, without a byte order mark\)/, value: '0x00' }, run: { status: 'rejected', reason: UTF16 } },
  'utf16be-no-bom.csv': { fatal: { message: /UTF-16 encoded \(big-endian, without a byte order mark\)/, value: '0x00' }, run: { status: 'rejected', reason: UTF16 } },
  'overlong-utf8.csv': { fatal: { message: /not valid UTF-8: byte 0xC0 on line 3 \(an overlong encoding/, line: 3, value: '0xC0' }, records: 1, run: { status: 'rejected', reason: /overlong/ } },
  'nul-bytes.csv': { fatal: { message: /NUL byte \(0x00\) on line 3/, line: 3, value: '0x00' }, records: 1, run: { status: 'rejected', reason: /NUL byte/ } },
  'empty.csv': { fatal: { message: /^the file is empty/ }, run: { status: 'rejected', reason: /the file is empty/ } },
  'header-only.csv': { run: { status: 'held', reason: /no member rows/ } },
  'duplicate-headers.csv': { fatal: { message: /columns "Email Address" and "Email Address" both map to email/, line: 1 }, run: { status: 'rejected', reason: /both map to email/ } },
  'missing-required-columns.csv': { fatal: { message: /^missing required columns last_name \("Last Name"\), email \("Email Address"\)/, line: 1, column: 'last_name, email' }, run: { status: 'rejected', reason: /missing required columns/ } },
  'semicolon-separated.csv': { fatal: { message: /^the header row is semicolon-separated, not comma-separated: export the file as comma-separated CSV/, line: 1 }, run: { status: 'rejected', reason: /semicolon-separated/ } },
  'tab-separated.csv': { fatal: { message: /^the header row is tab-separated, not comma-separated/, line: 1 }, run: { status: 'rejected', reason: /tab-separated/ } },
  'unterminated-quote.csv': { fatal: { message: /a quoted value in the record starting on line 3, column "City" is never closed/, line: 3 }, records: 1, run: { status: 'rejected', reason: /never closed/ } },
  'quote-in-unquoted-value.csv': { fatal: { message: /a quote inside an unquoted value/, line: 3, column: 'First Name' }, records: 1, run: { status: 'rejected', reason: /quote inside an unquoted value/ } },
  'ragged-rows.csv': { invalid: { lines: [3, 4, 5], message: /^expected 7 cells \(one per header column\), found (6|8|1)/ }, records: 5, valid: 2, run: { status: 'rejected', reason: /invalid/, errorCount: 3, errorLines: [3, 4, 5] } },
  'cr-only-line-endings.csv': { fatal: { message: /lines end with a carriage return only/, line: 1 }, run: { status: 'rejected', reason: /carriage return only/ } },
  'duplicate-emails-case.csv': { records: 3, valid: 3, run: { status: 'rejected', reason: /invalid/, errorCount: 2, errorLines: [2, 4] } },
  'impossible-dates.csv': { invalid: { lines: [2, 3, 4, 5, 6, 7], message: /^expected a date as MM\/DD\/YYYY/ }, records: 7, valid: 1, run: { status: 'rejected', reason: /invalid/, errorCount: 6 } },
  'twenty-thousand-columns.csv': { fatal: { message: /^missing required columns first_name .*; the header row has: "Column 1", "Column 2", .* and 19,\d{3} more$/, line: 1 }, run: { status: 'rejected', reason: /missing required columns/ }, heapMiB: 8 },
  'two-megabyte-field.csv': { fatal: { message: /^the record starting on line 3 is larger than 1048576 bytes/, line: 3 }, records: 1, run: { status: 'rejected', reason: /larger than 1048576 bytes/ }, heapMiB: 1.5 },
  'five-megabyte-line.csv': { fatal: { message: /^the record starting on line 2 is larger than 1048576 bytes/, line: 2 }, run: { status: 'rejected', reason: /larger than 1048576 bytes/ }, heapMiB: 1.5 },
  'blank-lines-200k.csv': { invalid: { lines: [BLANK_LINES + 4], message: /values are case-sensitive: use "active"/ }, records: 3, valid: 2, run: { status: 'rejected', reason: /invalid/, errorCount: 1, errorLines: [BLANK_LINES + 4] }, heapMiB: 4 },
  'huge-invalid-value.csv': { invalid: { lines: [3], message: /^status must be "active" or "inactive"/ }, records: 3, valid: 2, run: { status: 'rejected', reason: /invalid/, errorCount: 1, errorLines: [3] }, heapMiB: 4 },
  'huge-header-name.csv': { invalid: { lines: [3], message: /^first_name is required/ }, records: 2, valid: 1, run: { status: 'rejected', reason: /invalid/, errorCount: 1, errorLines: [3] }, heapMiB: 4 },
  'huge-header-broken-quote.csv': { fatal: { message: /^broken quoting in the record starting on line 3, column "City_+…": a quote inside an unquoted value/, line: 3 }, records: 1, run: { status: 'rejected', reason: /broken quoting/ }, heapMiB: 4 },
  'invalid-rows-100k.csv': { invalid: { lines: { count: INVALID_ROWS, first: [2, 3, 4] }, message: /^status must be "active" or "inactive"/ }, records: INVALID_ROWS, run: { status: 'rejected', reason: /invalid/, errorCount: INVALID_ROWS }, heapMiB: 4 },
};

/** Longest text any summary field may carry (reasons, errors, warnings), and most warnings. */
const MAX_TEXT = 2_000;
const MAX_WARNINGS = 50;

let dir: string;
const fileFor = (name: string) => (name in BIG ? path.join(dir, name) : path.join(BAD, name));

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'corpus-bad-'));
  for (const [name, chunks] of Object.entries(BIG)) await pipeline(Readable.from(chunks()), createWriteStream(path.join(dir, name)));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('the corpus has a case for every file, and the committed files are what generate.ts builds', async () => {
  expect(Object.keys(CORPUS).sort()).toEqual([...Object.keys(SMALL), ...Object.keys(BIG)].sort());
  for (const [name, build] of Object.entries(SMALL)) {
    const expected = build();
    if (process.env.UPDATE_BAD_FIXTURES === '1') await writeFile(path.join(BAD, name), expected);
    const committed = await readFile(path.join(BAD, name));
    const hint = `${name} (UPDATE_BAD_FIXTURES=1 rewrites it)`;
    // compressed bytes may differ between zlib versions: compare what they hold
    if (name === 'gzip-compressed.csv') expect(gunzipSync(committed).equals(gunzipSync(expected)), hint).toBe(true);
    else if (name === 'excel-workbook.csv') expect(committed.subarray(0, 4).toString('latin1') + committed.includes('xl/worksheets/sheet1.xml'), hint).toBe('PK\x03\x04true');
    else expect(committed.equals(expected), hint).toBe(true);
    // committed fixtures stay small; the big ones are generated
    expect(expected.length, name).toBeLessThan(16 * 1024);
  }
});

interface Reading {
  totals: ReadTotals;
  warnings: string[];
  valid: number;
  invalidCount: number;
  /** The first 10. */
  invalidLines: number[];
  issues: ValidationIssue[];
  peakHeapMiB: number;
}

/**
 * Reads FILE keeping only counts and the first issues. Samples the live heap (after a full collection, at
 * the start and after every MiB read): what the reader holds on to, not the garbage it leaves behind.
 */
async function readCounting(file: string, options?: ReadOptions, measure = true): Promise<Reading> {
  if (measure) gc();
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  const sample = () => {
    if (!measure) return;
    gc();
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  };
  let nextSample = 0;
  const sampled = async function* () {
    let bytes = 0;
    for await (const chunk of createReadStream(file)) {
      if (bytes >= nextSample) {
        sample();
        nextSample += 1024 * 1024;
      }
      bytes += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  };
  const reading = readMembershipFile(Readable.from(sampled()), tenantOf(), options);
  const header = await reading.header;
  const result = { valid: 0, invalidCount: 0, invalidLines: [] as number[], issues: [] as ValidationIssue[] };
  for await (const batch of reading.batches) {
    result.valid += batch.rows.length;
    result.invalidCount += batch.invalid.length;
    for (const row of batch.invalid.slice(0, 10 - result.invalidLines.length)) {
      result.invalidLines.push(row.line);
      result.issues.push(...row.issues);
    }
  }
  sample();
  const totals = await reading.totals;
  if (process.env.CORPUS_HEAP) console.log(path.basename(file), ((peak - before) / (1024 * 1024)).toFixed(2), 'MiB');
  return { totals, warnings: header.warnings, ...result, peakHeapMiB: (peak - before) / (1024 * 1024) };
}

describe('the reader', () => {
  test.each(Object.entries(CORPUS))('%s: a named reason, bounded memory, stops at the first fatal problem', async (name, expected) => {
    const file = fileFor(name);
    const reading = await readCounting(file, undefined, expected.heapMiB !== undefined);
    const { totals } = reading;
    // the whole file is hashed and counted, whatever stopped the parsing
    expect(totals.bytes).toBe((await stat(file)).size);
    if (expected.fatal) {
      expect(totals.fatal, 'fatal').toBeDefined();
      expect(totals.fatal!.message).toMatch(expected.fatal.message);
      if (expected.fatal.line !== undefined) expect(totals.fatal!.line).toBe(expected.fatal.line);
      if (expected.fatal.value !== undefined) expect(totals.fatal!.value).toBe(expected.fatal.value);
      if (expected.fatal.column !== undefined) expect(totals.fatal!.column).toBe(expected.fatal.column);
      expect(totals.fatal!.message.length).toBeLessThanOrEqual(MAX_TEXT);
      expect(totals.fatal!.column.length).toBeLessThanOrEqual(MAX_TEXT);
    } else {
      expect(totals.fatal).toBeUndefined();
    }
    // parsing stopped at the fatal problem: no row after it was seen
    expect(totals.records).toBe(expected.records ?? 0);
    expect(reading.valid).toBe(expected.valid ?? 0);
    if (expected.invalid) {
      const { lines, message } = expected.invalid;
      const { count, first } = Array.isArray(lines) ? { count: lines.length, first: lines } : lines;
      expect(reading.invalidCount).toBe(count);
      expect(reading.invalidLines.slice(0, first.length)).toEqual(first);
      expect(reading.issues.length).toBeGreaterThan(0);
      for (const issue of reading.issues) {
        expect(issue.message).toMatch(message);
        // the texts of an issue are bounded, whatever the cell or header held
        for (const text of [issue.message, issue.value, issue.column]) expect(text.length).toBeLessThanOrEqual(MAX_TEXT);
      }
    } else {
      expect(reading.invalidCount).toBe(0);
    }
    if (!expected.fatal) expect(totals.records).toBe(reading.valid + reading.invalidCount);
    expect(reading.warnings.length).toBeLessThanOrEqual(MAX_WARNINGS);
    for (const warning of reading.warnings) expect(warning.length).toBeLessThanOrEqual(MAX_TEXT);
    // the big files: the live heap while reading stays under the bound (the small ones are too small to tell)
    if (expected.heapMiB !== undefined) expect(reading.peakHeapMiB).toBeLessThan(expected.heapMiB);
  });

  test('the heap measure can fail: without its record cap the reader holds the whole 2 MB field', async () => {
    const reading = await readCounting(fileFor('two-megabyte-field.csv'), { maxRecordBytes: 64 * 1024 * 1024 });
    expect(reading.totals.fatal).toBeUndefined();
    expect(reading.peakHeapMiB).toBeGreaterThan(CORPUS['two-megabyte-field.csv']!.heapMiB!);
  });
});

describe('the pipeline: nothing stored', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await db?.dispose();
  });

  test.each(Object.entries(CORPUS))('%s: rejected or held, nothing stored', async (name, expected) => {
    const tenant = tenantOf({ id: `bad-${name.replace(/[^a-z0-9]+/g, '-').replace(/-csv$/, '')}` });
    const first = await ingestFile({ db }, tenant, fileOf('members - 01.13.2023.csv', validCsv(1, 30)));
    expect(first.status).toBe('accepted');
    const before = await membersOf(db, tenant.id);
    expect(before.size).toBe(30);
    const lastBefore = await lastAcceptedRun(db.pool, tenant.id);

    const file = fileFor(name);
    const summary: RunSummary = await ingestFile({ db }, tenant, { name: `${name.replace(/\.csv$/, '')} - 02.13.2023.csv`, open: () => createReadStream(file) });

    expect(summary.status).toBe(expected.run.status);
    expect(summary.reasons.join('\n')).toMatch(expected.run.reason);
    if (expected.fatal) {
      expect(summary.errors[0]!.message).toMatch(expected.fatal.message);
      expect(summary.errorCount).toBe(1);
    }
    if (expected.run.errorCount !== undefined) expect(summary.errorCount).toBe(expected.run.errorCount);
    if (expected.run.errorLines) expect(summary.errors.map((e) => e.line)).toEqual(expected.run.errorLines);
    // every text of the summary is bounded
    expect(summary.errors.length).toBeLessThanOrEqual(100);
    expect(summary.warnings.length).toBeLessThanOrEqual(MAX_WARNINGS);
    for (const text of [...summary.reasons, ...summary.warnings, ...summary.errors.flatMap((e) => [e.message, e.value, e.column])]) {
      expect(text.length).toBeLessThanOrEqual(MAX_TEXT);
    }

    // nothing stored: the same members with the same rows, and the same last accepted run
    expect(await membersOf(db, tenant.id)).toEqual(before);
    expect((await lastAcceptedRun(db.pool, tenant.id))?.id).toBe(lastBefore?.id);
  });
});
