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
  const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const batchSize = Math.max(1, options.batchSize ?? DEFAULT_BATCH_SIZE);
  const header = deferred<FileHeader>();
  const totals = deferred<ReadTotals>();

  const hash = createHash('sha256');
  let bytes = 0;
  let records = 0;
  let fatal: ValidationIssue | undefined;
  let finished = false;

  const parser = new CsvRecordParser(maxRecordBytes, (cells, line) => take(cells, line));

  const guard = new Utf8Guard();
  let headers: string[] | null = null;
  let validator: RowValidator | null = null;
  let rows: ParsedRow[] = [];
  let invalid: InvalidRow[] = [];
  const ready: ReadBatch[] = [];

  function stop(issue: ValidationIssue): void {
    fatal ??= issue;
  }

  function takeHeader(cells: string[], line: number): void {
    headers = cells;
    if (headers.some((h) => h.includes('\r'))) {
      stop({ line, column: '', value: '', message: CR_ONLY });
      return;
    }
    if (headers.every((h) => h.trim() === '')) {
      stop({ line, column: '', value: '', message: `line ${line} is blank: the first line must be the header row (First Name, Last Name, Email Address, ...)` });
      return;
    }
    const mapping = withSeparatorProblem(headers, mapHeaders(headers, tenant));
    header.resolve({ columns: mapping.columns, warnings: mapping.warnings });
    if (mapping.fatal) {
      stop({ line, column: mapping.fatal.column, value: '', message: mapping.fatal.message });
      return;
    }
    validator = new RowValidator({ headers, fields: mapping.fields, allowedValues: tenant.allowedValues });
  }

  function take(cells: string[], line: number): void {
    if (fatal) return;
    if (validator === null) {
      if (headers === null) takeHeader(cells, line);
      return;
    }
    const row = validator.validate(cells, line);
    if (row === null) return;
    records++;
    if ('issues' in row) invalid.push(row);
    else rows.push(row);
    if (rows.length + invalid.length >= batchSize) {
      ready.push({ rows, invalid });
      rows = [];
      invalid = [];
    }
  }

  function checkParser(): void {
    if (parser.error && !fatal) stop(parseFailure(parser.error));
  }

  function parseFailure(error: CsvSyntaxError): ValidationIssue {
    const column = headers ? cut((headers[error.column] ?? '').trim()) : '';
    const line = error.line;
    if (headers === null && (error.code === 'CSV_MAX_RECORD_SIZE' ? guard.newlinesSeen === 0 : guard.loneCrSeen)) {
      return { line, column: '', value: '', message: CR_ONLY };
    }
    return { line, column, value: '', message: parseErrorMessage(error, line, column, maxRecordBytes) };
  }

  function feed(chunk: Buffer): void {
    hash.update(chunk);
    bytes += chunk.length;
    if (fatal) return;
    const safe = guard.push(chunk);
    if (guard.failure) {
      stop({ line: guard.failure.line, column: '', value: guard.failure.bytes, message: guard.failure.message });
      return;
    }
    for (let at = 0; safe && at < safe.length && !fatal; at += SLICE_BYTES) {
      parser.write(safe.subarray(at, at + SLICE_BYTES));
      checkParser();
    }
  }

  function finishParsing(): void {
    guard.end();
    if (guard.failure) {
      stop({ line: guard.failure.line, column: '', value: guard.failure.bytes, message: guard.failure.message });
      return;
    }
    parser.end();
    checkParser();
    if (headers === null && !fatal) {
      stop({ line: 1, column: '', value: '', message: 'the file is empty: expected a header row, then one row per member' });
    }
  }

  async function* generate(): AsyncGenerator<ReadBatch> {
    try {
      for await (const chunk of input) {
        feed(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
        while (ready.length > 0) yield ready.shift() as ReadBatch;
      }
      if (!fatal) finishParsing();
      if (!fatal && rows.length + invalid.length > 0) {
        ready.push({ rows, invalid });
        rows = [];
        invalid = [];
      }
      while (ready.length > 0) yield ready.shift() as ReadBatch;
      finished = true;
    } catch (error) {
      header.reject(error);
      totals.reject(error);
      throw error;
    } finally {
      if (!finished) {
        stop({ line: parser.currentLine, column: '', value: '', message: 'reading stopped before the end of the file' });
      }
      header.resolve({ columns: [], warnings: [] }); // no-op when already settled
      totals.resolve({ sha256: hash.digest('hex'), bytes, records, ...(fatal ? { fatal } : {}) });
    }
  }

  const generator = generate();
  // Start at once so that `header` resolves even before the consumer pulls the first batch.
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
  return { header: header.promise, batches: { [Symbol.asyncIterator]: () => iterator }, totals: totals.promise };
}
