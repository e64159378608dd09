import { Parser } from 'csv-parse';
import { describe, expect, test } from 'vitest';
import { CsvRecordParser, type CsvSyntaxError } from '../src/csv/records.js';
import { mulberry32 as random } from '../bench/random.js';

interface Outcome {
  records: { cells: string[]; line: number }[];
  error: { code: string; column: number; line: number } | null;
}

/** Physical line of byte offset AT: one plus the LFs before it. */
function lineAt(bytes: Buffer, at: number): number {
  let line = 1;
  for (let i = 0; i < at; i++) if (bytes[i] === 10) line++;
  return line;
}

/**
 * The reference: csv-parse with the options the reader used before it had its own parser. Start lines
 * come from the byte offset where each record starts (csv-parse's `bytes` after the record before).
 */
function withCsvParse(text: string, maxRecordSize = 0): Promise<Outcome> {
  const bytes = Buffer.from(text);
  const outcome: Outcome = { records: [], error: null };
  let startByte = 0;
  const parser = new Parser({
    bom: true,
    relax_column_count: true,
    record_delimiter: ['\r\n', '\n'],
    max_record_size: maxRecordSize,
    // synchronous, so that the records before an error are all seen
    on_record: (record: string[], context: { bytes: number }) => {
      outcome.records.push({ cells: record, line: lineAt(bytes, startByte) });
      startByte = context.bytes;
      return record;
    },
  });
  return new Promise((resolve) => {
    parser.on('data', () => undefined);
    parser.on('error', (error: Error & { code: string; column: number }) => {
      outcome.error = { code: error.code, column: error.column, line: lineAt(bytes, startByte) };
      resolve(outcome);
    });
    parser.on('end', () => resolve(outcome));
    parser.end(bytes);
  });
}

/** Ours, fed in pieces of PIECES bytes (cutting characters anywhere), then the rest. */
function withRecordParser(text: string, pieces: number[], maxRecordSize = Number.MAX_SAFE_INTEGER): Outcome {
  const outcome: Outcome = { records: [], error: null };
  const parser = new CsvRecordParser(maxRecordSize, (cells, line) => outcome.records.push({ cells, line }));
  const bytes = Buffer.from(text);
  let at = 0;
  for (const size of pieces) {
    parser.write(bytes.subarray(at, at + size));
    at += size;
  }
  parser.write(bytes.subarray(at));
  parser.end();
  const error: CsvSyntaxError | null = parser.error;
  if (error) outcome.error = { code: error.code, column: error.column, line: error.line };
  return outcome;
}

const ALPHABET = ['a', 'b', 'Zoë', '김', '🙂', ' ', ',', ',', ',', '"', '"', '""', '\n', '\n', '\r\n', '\r', 'x'.repeat(20)];

function randomText(rnd: () => number): string {
  let text = rnd() < 0.1 ? '\uFEFF' : '';
  const length = Math.floor(rnd() * 40);
  for (let i = 0; i < length; i++) {
    const r = rnd();
    // mostly well-formed quoted values, so that records get past their first quote
    if (r < 0.15) text += `"${['a,b', 'x\ny', 'p\r\nq', 'say ""hi""', ''][Math.floor(rnd() * 5)]}"`;
    else text += ALPHABET[Math.floor(rnd() * ALPHABET.length)];
  }
  return text;
}

function randomPieces(rnd: () => number, text: string): number[] {
  const length = Buffer.byteLength(text);
  const pieces: number[] = [];
  for (let total = 0; total < length; ) {
    const size = rnd() < 0.3 ? 0 : 1 + Math.floor(rnd() * 12);
    pieces.push(size);
    total += size;
  }
  return pieces;
}

describe('the record parser agrees with csv-parse', () => {
  test('on 3,000 random inputs cut at random bytes: records, start lines, errors', async () => {
    const rnd = random(42);
    let failures = 0;
    let errors = 0;
    for (let i = 0; i < 3000; i++) {
      const text = randomText(rnd);
      const expected = await withCsvParse(text);
      const got = withRecordParser(text, randomPieces(rnd, text));
      if (expected.error) errors++;
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        failures++;
        if (failures <= 3) expect({ text, got }).toEqual({ text, got: expected });
      }
    }
    expect(failures).toBe(0);
    // the inputs reach every kind of outcome
    expect(errors).toBeGreaterThan(300);
    expect(errors).toBeLessThan(2700);
  });

  test.each([
    ['an empty input', ''],
    ['a BOM only', '\uFEFF'],
    ['a blank line in the middle', 'a,b\n\nc,d\n'],
    ['CRLF inside a quoted value', '"x\r\ny",b\r\nc'],
    ['a lone CR is data', 'a\rb,c\n'],
    ['a CR at the very end', 'a,b\r'],
    ['a BOM after the start is data', 'x\n\uFEFFa,b'],
    ['a comma at the very end', 'a,'],
    ['escaped quotes', '"",""\n"x""y"'],
    ['text after a closing quote', 'a,b\n"a"b,c'],
    ['a space after a closing quote', '"a" ,c'],
    ['a quote inside an unquoted value', 'a,b\nc,d"e'],
    ['a space before an opening quote', ' "a",c'],
    ['an unclosed quote', 'a,b\nc,"d\ne,f'],
    ['a CR after a closing quote', '"a"\rb'],
  ])('%s', async (_name, text) => {
    const expected = await withCsvParse(text);
    expect(withRecordParser(text, [])).toEqual(expected);
    expect(withRecordParser(text, Array.from(Buffer.from(text), () => 1))).toEqual(expected);
  });
});

describe('record size cap', () => {
  test('a record over the cap is an error naming the line it starts on; smaller ones pass', () => {
    const text = 'a,b\n"x\ny",' + 'z'.repeat(50) + '\nc,d\n';
    const capped = withRecordParser(text, [], 40);
    expect(capped.records.map((r) => r.cells)).toEqual([['a', 'b']]);
    expect(capped.error).toEqual({ code: 'CSV_MAX_RECORD_SIZE', column: 0, line: 2 });
    expect(withRecordParser(text, [], 60).error).toBeNull();
  });

  test('an unclosed quote stops at the cap instead of buffering the rest of the input', () => {
    const parser = new CsvRecordParser(1000, () => undefined);
    parser.write(Buffer.from('a,b\n"open,'));
    for (let i = 0; i < 100 && parser.error === null; i++) parser.write(Buffer.from('c,d\n'.repeat(10)));
    expect(parser.error?.code).toBe('CSV_MAX_RECORD_SIZE');
    expect(parser.error?.line).toBe(2);
    expect(parser.currentLine).toBe(2);
  });
});
