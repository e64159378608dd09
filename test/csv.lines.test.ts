import { Readable } from 'node:stream';
import { expect, test } from 'vitest';
import { defaultTenant } from '../src/config/tenant.js';
import { readMembershipFile, type ParsedRow } from '../src/csv/read.js';
import { mulberry32 as random } from '../bench/random.js';

const PIECES = ['Ann', 'Lee', ' spaced ', 'a,b', 'say "hi"', 'two\nlines', 'crlf\r\ninside', 'é', '김', '', '🙂', 'x'.repeat(40)];

function cell(rnd: () => number): string {
  let text = '';
  const parts = 1 + Math.floor(rnd() * 2);
  for (let i = 0; i < parts; i++) text += PIECES[Math.floor(rnd() * PIECES.length)];
  return text;
}

function quote(value: string): string {
  return /[",\r\n]/.test(value) || value !== value.trim() ? `"${value.replaceAll('"', '""')}"` : value;
}

test.each([1, 2, 3, 4, 5])('start lines and values survive any quoting and any chunking (seed %i)', async (seed) => {
  const rnd = random(seed);
  const eol = seed % 2 === 0 ? '\r\n' : '\n';
  let text = 'First Name,Last Name,Email,Business Unit' + eol;
  const expected: ParsedRow[] = [];
  for (let i = 0; i < 300; i++) {
    if (rnd() < 0.05) text += eol; // blank line: skipped, but it moves the line numbers
    const line = text.split('\n').length;
    const first = cell(rnd) || 'X';
    const last = cell(rnd) || 'Y';
    const unit = cell(rnd);
    expected.push({
      line,
      values: { first_name: first.trim() || 'X', last_name: last.trim() || 'Y', email: `p${i}@example.com`, business_unit: unit.trim() },
    });
    text += [first, last, `p${i}@example.com`, unit].map(quote).join(',') + eol;
  }
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = 1 + Math.floor(rnd() * 200);
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }

  const reading = readMembershipFile(Readable.from(chunks), defaultTenant(), { batchSize: 37 });
  const rows: ParsedRow[] = [];
  for await (const batch of reading.batches) {
    expect(batch.invalid).toEqual([]);
    rows.push(...batch.rows);
  }
  const totals = await reading.totals;
  expect(totals.fatal).toBeUndefined();
  expect(totals.records).toBe(300);
  expect(rows.map((r) => r.line)).toEqual(expected.map((r) => r.line));
  expect(rows).toEqual(expected);
});
