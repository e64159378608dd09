import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { expect, test } from 'vitest';
import { defaultTenant } from '../src/config/tenant.js';
import { readMembershipFile } from '../src/csv/read.js';
import { SAMPLE_HEADERS } from '../src/fields/fields.js';

const ROWS = 200_000;
const INVALID_EVERY = 997; // a few invalid rows so both lists are exercised

/** A deterministic membership file, produced in chunks: the whole text never exists at once. */
function* membershipChunks(): Generator<Buffer> {
  yield Buffer.from('\ufeff' + SAMPLE_HEADERS.join(',') + '\r\n');
  let text = '';
  for (let i = 0; i < ROWS; i++) {
    const status = i % INVALID_EVERY === 0 ? 'Active' : i % 10 === 0 ? 'inactive' : 'active';
    const month = String((i % 12) + 1).padStart(2, '0');
    const day = String((i % 28) + 1).padStart(2, '0');
    text +=
      `Fïrst${i},Last${i},person${i}@example.com,E${1_000_000 + i},eligible,${status},Engineering,${month}/${day}/2019,` +
      `"Technology, Platform",Toronto,${i % 7 === 0 ? 'yes' : 'no'},no,Female,Ava Mitchell,Isla Robertson,Renata Okafor,` +
      `${i % 3 === 0 ? '' : 'fr-CA'},${month}/${day}/2022,Promotion\r\n`;
    if (text.length > 60_000) {
      yield Buffer.from(text);
      text = '';
    }
  }
  yield Buffer.from(text);
}

test('streams a 200k-row generated file with bounded memory; counts and sha256 match an independent pass', async () => {
  const expected = createHash('sha256');
  let expectedBytes = 0;
  for (const chunk of membershipChunks()) {
    expected.update(chunk);
    expectedBytes += chunk.length;
  }

  const heapBefore = process.memoryUsage().heapUsed;
  let peakHeap = heapBefore;
  const reading = readMembershipFile(Readable.from(membershipChunks()), defaultTenant());
  let valid = 0;
  let invalid = 0;
  let lastLine = 0;
  let blankLocaleDefaulted = 0;
  for await (const batch of reading.batches) {
    valid += batch.rows.length;
    invalid += batch.invalid.length;
    for (const row of batch.rows) {
      if (row.line <= lastLine) throw new Error(`lines out of order at ${row.line}`);
      lastLine = row.line;
      if (row.values.locale === 'en-US') blankLocaleDefaulted++;
    }
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }
  const totals = await reading.totals;

  expect(totals.fatal).toBeUndefined();
  expect(totals.records).toBe(ROWS);
  expect(invalid).toBe(Math.ceil(ROWS / INVALID_EVERY));
  expect(valid + invalid).toBe(ROWS);
  expect(lastLine).toBe(ROWS + 1);
  expect(blankLocaleDefaulted).toBeGreaterThan(60_000);
  expect(totals.bytes).toBe(expectedBytes);
  expect(totals.sha256).toBe(expected.digest('hex'));
  // The file is ~40 MB; keeping its rows would take several hundred MB of heap.
  expect(expectedBytes).toBeGreaterThan(38 * 1024 * 1024);
  expect(peakHeap - heapBefore).toBeLessThan(150 * 1024 * 1024);
});
