import { StringDecoder } from 'node:string_decoder';

/**
 * RFC 4180 records from UTF-8 bytes, with the physical line each record starts on: comma separated,
 * CRLF or LF record delimiters (a lone CR is data), double quotes around a value with "" inside it, a BOM
 * at the very start dropped. A wrong number of cells is the row validator's business, not a syntax error.
 *
 * Written for the one dialect the field spec allows instead of going through csv-parse: the engine reads
 * every byte of files up to a million rows, and scanning decoded text with indexOf and slices takes under
 * a quarter of csv-parse's time (1.2 s against 5.4 s for the 1M-row bench file, docs/spec.md).
 * test/csv.records.test.ts checks it against csv-parse (with the options the reader used) on random
 * inputs: the same records, lines and errors.
 */

/** The codes are csv-parse's, so the messages (./parse-errors.ts) read the same whichever parser found it. */
export type CsvSyntaxCode = 'CSV_QUOTE_NOT_CLOSED' | 'CSV_INVALID_CLOSING_QUOTE' | 'INVALID_OPENING_QUOTE' | 'CSV_MAX_RECORD_SIZE';

export class CsvSyntaxError extends Error {
  override name = 'CsvSyntaxError';
  constructor(
    readonly code: CsvSyntaxCode,
    /** 0-based index of the cell where the problem is. */
    readonly column: number,
    /** The line the record starts on. */
    readonly line: number,
  ) {
    super(`${code} in the record starting on line ${line}, cell ${column + 1}`);
  }
}

const COMMA = 44;
const QUOTE = 34;
const LF = 10;
const CR = 13;

/** parseText could not finish the record that starts at this offset: more input is needed. */
const MORE = -1;

export class CsvRecordParser {
  /** Text of the record in progress, from its start: parsed again once the rest arrives. */
  private pending = '';
  private started = false;
  /** Holds back a character cut by the end of a chunk until the rest of it arrives. */
  private readonly decoder = new StringDecoder('utf8');
  private line = 1;
  error: CsvSyntaxError | null = null;

  constructor(
    /** Largest record accepted, in UTF-16 code units, its line break not counted. */
    private readonly maxRecordSize: number,
    private readonly onRecord: (cells: string[], line: number) => void,
  ) {}

  /** The line the next record (or the one in progress) starts on. */
  get currentLine(): number {
    return this.line;
  }

  /** Valid UTF-8 (src/csv/utf8.ts checks it), cut anywhere. */
  write(chunk: Buffer): void {
    if (this.error || chunk.length === 0) return;
    let text = this.decoder.write(chunk);
    if (text.length === 0) return;
    if (!this.started) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.parseText(this.pending.length > 0 ? this.pending + text : text, false);
  }

  /** The end of the input: the last record may lack its line break. */
  end(): void {
    if (this.error) return;
    this.parseText(this.pending + this.decoder.end(), true);
    this.pending = '';
  }

  private fail(code: CsvSyntaxCode, column: number): void {
    this.error = new CsvSyntaxError(code, column, this.line);
    this.pending = '';
  }

  private parseText(text: string, final: boolean): void {
    let start = 0;
    // The first quote at or after START (-1: none): a record that ends before it has no quoted value, and
    // is split natively (most records of a membership file).
    let quote = text.indexOf('"');
    while (start < text.length && this.error === null) {
      const lf = text.indexOf('\n', start);
      let next: number;
      if (lf !== -1 && (quote === -1 || quote > lf)) {
        const end = lf > start && text.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
        next = this.emit(text.slice(start, end).split(','), start, end, lf + 1, 0);
      } else {
        next = this.parseRecord(text, start, final);
        if (quote !== -1 && quote < next) quote = text.indexOf('"', next);
      }
      if (next === MORE) break;
      start = next;
    }
    if (this.error !== null) return;
    this.pending = start < text.length ? text.slice(start) : '';
    if (this.pending.length > this.maxRecordSize) this.fail('CSV_MAX_RECORD_SIZE', 0);
  }

  /** Parses the record at START: the offset after it, or MORE. Emits it, or sets the error. */
  private parseRecord(text: string, start: number, final: boolean): number {
    const length = text.length;
    const cells: string[] = [];
    let newlines = 0;
    let at = start;
    for (;;) {
      let end: number; // offset of the character after the cell
      if (at < length && text.charCodeAt(at) === QUOTE) {
        let value = '';
        let from = at + 1;
        for (;;) {
          const quote = text.indexOf('"', from);
          if (quote === -1 || (quote + 1 === length && !final)) {
            if (!final) return MORE;
            this.fail('CSV_QUOTE_NOT_CLOSED', cells.length);
            return MORE;
          }
          if (text.charCodeAt(quote + 1) === QUOTE) {
            value += text.slice(from, quote + 1);
            from = quote + 2;
            continue;
          }
          value += text.slice(from, quote);
          newlines += countNewlines(text, at + 1, quote);
          end = quote + 1;
          break;
        }
        cells.push(value);
        if (end === length) {
          if (!final) return MORE;
          return this.emit(cells, start, end, end, newlines);
        }
        const after = text.charCodeAt(end);
        if (after === COMMA) {
          at = end + 1;
          continue;
        }
        if (after === LF) return this.emit(cells, start, end, end + 1, newlines);
        if (after === CR) {
          if (end + 1 === length && !final) return MORE;
          if (text.charCodeAt(end + 1) === LF) return this.emit(cells, start, end, end + 2, newlines);
        }
        this.fail('CSV_INVALID_CLOSING_QUOTE', cells.length - 1);
        return MORE;
      }
      let scan = at;
      let c = 0;
      while (scan < length) {
        c = text.charCodeAt(scan);
        if (c === COMMA || c === LF || c === QUOTE) break;
        scan++;
      }
      if (scan === length) {
        if (!final) return MORE;
        if (at === length && cells.length === 0) return length; // nothing after the last line break
        cells.push(text.slice(at, length));
        return this.emit(cells, start, length, length, newlines);
      }
      if (c === QUOTE) {
        this.fail('INVALID_OPENING_QUOTE', cells.length);
        return MORE;
      }
      if (c === COMMA) {
        cells.push(text.slice(at, scan));
        at = scan + 1;
        continue;
      }
      // LF; a CR right before it belongs to the record delimiter
      cells.push(text.slice(at, scan > at && text.charCodeAt(scan - 1) === CR ? scan - 1 : scan));
      return this.emit(cells, start, scan, scan + 1, newlines);
    }
  }

  /** A complete record from START to END (before its line break), the next one at NEXT. */
  private emit(cells: string[], start: number, end: number, next: number, newlines: number): number {
    if (end - start > this.maxRecordSize) {
      this.fail('CSV_MAX_RECORD_SIZE', 0);
      return MORE;
    }
    const line = this.line;
    this.line = line + 1 + newlines;
    this.onRecord(cells, line);
    return next;
  }
}

function countNewlines(text: string, from: number, to: number): number {
  let count = 0;
  for (let at = text.indexOf('\n', from); at !== -1 && at < to; at = text.indexOf('\n', at + 1)) count++;
  return count;
}
