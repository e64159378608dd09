import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { TenantConfig } from '../config/tenant.js';
import { cut } from '../fields/bounded.js';
import { mapHeaders } from '../fields/headers.js';
import { RowValidator } from '../fields/row.js';
import { CsvRecordParser, type CsvSyntaxError } from './records.js';
import { Utf8Guard } from './utf8.js';
import { withSeparatorProblem } from './sniff.js';
import { parseErrorMessage } from './parse-errors.js';
import type { FileHeader, InvalidRow, ParsedRow, ReadBatch, ReadOptions, ReadTotals, ValidationIssue } from './types.js';

export type { FileHeader, InvalidRow, ParsedRow, ReadBatch, ReadOptions, ReadTotals, ValidationIssue } from './types.js';

export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;
export const DEFAULT_BATCH_SIZE = 1000;
/** Bytes handed to the parser at a time, so that a huge input chunk cannot produce a huge burst of rows. */
const SLICE_BYTES = 64 * 1024;
const CR_ONLY = 'lines end with a carriage return only (or there is no line break at all): use LF or CRLF line endings';

export interface MembershipFileReading {
  /** Resolves once the header row is mapped (with empty columns when the file has no usable header). */
  header: Promise<FileHeader>;
  /** Single use. Reading starts at once; the next chunk is read only when the consumer asks for a batch. */
  batches: AsyncIterable<ReadBatch>;
  /** Resolves after the last batch (rejects only on an I/O error of the input). */
  totals: Promise<ReadTotals>;
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // a consumer that never awaits it must not crash the process
  return { promise, resolve, reject };
}

/**
 * Streams a membership CSV: sha256 and byte count of the raw bytes, strict UTF-8, RFC 4180 parsing,
 * header mapping and the field spec's per-row rules, in batches. Memory stays bounded by the batch size.
 * Uniqueness of email / employee_id across the file is the engine's job.
 */
export function readMembershipFile(input: Readable, tenant: TenantConfig, options: ReadOptions = {}): MembershipFileReading {
  const reader = new MembershipReader(tenant, options);
  const batches = startedAtOnce(readBatches(input, reader));
  return { header: reader.header.promise, batches, totals: reader.totals.promise };
}

/** The batches of INPUT: each chunk decoded, cut into records, the header mapped, the rows validated and batched. */
async function* readBatches(input: Readable, reader: MembershipReader): AsyncGenerator<ReadBatch> {
  let finished = false;
  try {
    for await (const chunk of input) {
      reader.feed(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
      while (reader.ready.length > 0) yield reader.ready.shift() as ReadBatch;
    }
    reader.end();
    while (reader.ready.length > 0) yield reader.ready.shift() as ReadBatch;
    finished = true;
  } catch (error) {
    reader.header.reject(error);
    reader.totals.reject(error);
    throw error;
  } finally {
    reader.settle(finished);
  }
}

/**
 * One file being read, in its steps: decode (sha256, byte count, strict UTF-8), records (RFC 4180),
 * header (the first record, mapped to fields), rows (validated, in batches ready for the consumer).
 * The first problem that stops reading is kept as the file's fatal issue.
 */
export class MembershipReader {
  readonly header = deferred<FileHeader>();
  readonly totals = deferred<ReadTotals>();
  /** Batches complete and not yet taken by the consumer. */
  readonly ready: ReadBatch[] = [];
  private readonly maxRecordBytes: number;
  private readonly batchSize: number;
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private records = 0;
  private fatal: ValidationIssue | undefined;
  private readonly guard = new Utf8Guard();
  private readonly parser: CsvRecordParser;
  private headers: string[] | null = null;
  private validator: RowValidator | null = null;
  private rows: ParsedRow[] = [];
  private invalid: InvalidRow[] = [];

  constructor(
    private readonly tenant: TenantConfig,
    options: ReadOptions,
  ) {
    this.maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this.batchSize = Math.max(1, options.batchSize ?? DEFAULT_BATCH_SIZE);
    this.parser = new CsvRecordParser(this.maxRecordBytes, (cells, line) => this.take(cells, line));
  }

  /** A chunk of the input: hashed and counted always (the sha256 is of the whole file), then decoded and parsed. */
  feed(chunk: Buffer): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    if (this.fatal) return;
    const text = this.decode(chunk);
    if (text) this.parseRecords(text);
  }

  /** Step "decode": the bytes that are complete, valid UTF-8 (null when none yet, or when the file is not UTF-8). */
  decode(chunk: Buffer): Buffer | null {
    const safe = this.guard.push(chunk);
    if (this.guard.failure) {
      this.stop({ line: this.guard.failure.line, column: '', value: this.guard.failure.bytes, message: this.guard.failure.message });
      return null;
    }
    return safe;
  }

  /** Step "records": decoded bytes into the CSV parser, a slice at a time, so a huge chunk cannot make a huge burst of rows. */
  parseRecords(bytes: Buffer): void {
    for (let at = 0; at < bytes.length && !this.fatal; at += SLICE_BYTES) {
      this.parser.write(bytes.subarray(at, at + SLICE_BYTES));
      this.checkParser();
    }
  }

  /** Each record from the parser: the first is the header, the others rows. */
  private take(cells: string[], line: number): void {
    if (this.fatal) return;
    if (this.validator === null) {
      if (this.headers === null) this.takeHeader(cells, line);
      return;
    }
    this.takeRow(cells, line);
  }

  /** Step "header": the first record mapped to the fields (the header promise resolves with it). */
  takeHeader(cells: string[], line: number): void {
    const headers = cells;
    this.headers = headers;
    if (headers.some((h) => h.includes('\r'))) {
      this.stop({ line, column: '', value: '', message: CR_ONLY });
      return;
    }
    if (headers.every((h) => h.trim() === '')) {
      this.stop({ line, column: '', value: '', message: `line ${line} is blank: the first line must be the header row (First Name, Last Name, Email Address, ...)` });
      return;
    }
    const mapping = withSeparatorProblem(headers, mapHeaders(headers, this.tenant));
    this.header.resolve({ columns: mapping.columns, warnings: mapping.warnings, names: mapping.names });
    if (mapping.fatal) {
      this.stop({ line, column: mapping.fatal.column, value: '', message: mapping.fatal.message });
      return;
    }
    this.validator = new RowValidator({ headers, fields: mapping.fields, allowedValues: this.tenant.allowedValues });
  }

  /** Step "rows": one record validated (blank lines are none) into the current batch; a full batch is ready. */
  takeRow(cells: string[], line: number): void {
    const row = this.validator!.validate(cells, line);
    if (row === null) return;
    this.records++;
    if ('issues' in row) this.invalid.push(row);
    else this.rows.push(row);
    if (this.rows.length + this.invalid.length >= this.batchSize) this.flushBatch();
  }

  /** The input ended: the decoder's and the parser's last bytes, then the last (partial) batch. */
  end(): void {
    if (!this.fatal) this.finishParsing();
    if (!this.fatal && this.rows.length + this.invalid.length > 0) this.flushBatch();
  }

  /** Reading is over (FINISHED: the whole input was read): the header (if still open) and the totals resolve. */
  settle(finished: boolean): void {
    if (!finished) {
      this.stop({ line: this.parser.currentLine, column: '', value: '', message: 'reading stopped before the end of the file' });
    }
    this.header.resolve({ columns: [], warnings: [] }); // no-op when already settled
    this.totals.resolve({ sha256: this.hash.digest('hex'), bytes: this.bytes, records: this.records, ...(this.fatal ? { fatal: this.fatal } : {}) });
  }

  private flushBatch(): void {
    this.ready.push({ rows: this.rows, invalid: this.invalid });
    this.rows = [];
    this.invalid = [];
  }

  private stop(issue: ValidationIssue): void {
    this.fatal ??= issue;
  }

  private checkParser(): void {
    if (this.parser.error && !this.fatal) this.stop(this.parseFailure(this.parser.error));
  }

  private parseFailure(error: CsvSyntaxError): ValidationIssue {
    const column = this.headers ? cut((this.headers[error.column] ?? '').trim()) : '';
    const line = error.line;
    if (this.headers === null && (error.code === 'CSV_MAX_RECORD_SIZE' ? this.guard.newlinesSeen === 0 : this.guard.loneCrSeen)) {
      return { line, column: '', value: '', message: CR_ONLY };
    }
    return { line, column, value: '', message: parseErrorMessage(error, line, column, this.maxRecordBytes) };
  }

  private finishParsing(): void {
    this.guard.end();
    if (this.guard.failure) {
      this.stop({ line: this.guard.failure.line, column: '', value: this.guard.failure.bytes, message: this.guard.failure.message });
      return;
    }
    this.parser.end();
    this.checkParser();
    if (this.headers === null && !this.fatal) {
      this.stop({ line: 1, column: '', value: '', message: 'the file is empty: expected a header row, then one row per member' });
    }
  }
}

/**
 * GENERATOR as a single-use iterable that has already asked for its first batch, so that the header
 * resolves even before the consumer pulls one.
 */
function startedAtOnce(generator: AsyncGenerator<ReadBatch>): AsyncIterable<ReadBatch> {
  const first = generator.next();
  first.catch(() => undefined);
  let firstTaken = false;
  const iterator: AsyncIterator<ReadBatch> = {
    next() {
      if (!firstTaken) {
        firstTaken = true;
        return first;
      }
      return generator.next();
    },
    return(value?: unknown) {
      firstTaken = true;
      return generator.return(value as ReadBatch);
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}
