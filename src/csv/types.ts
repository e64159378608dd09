/** The reader's output types (docs/INTERNALS.md "Reading a file"); re-exported by ./read.ts. */
import type { InvalidRow, ParsedRow, ValidationIssue } from '../types.js';

export type { InvalidRow, ParsedRow, ValidationIssue } from '../types.js';

export interface FileHeader {
  /** Canonical names of mapped columns, in file order. */
  columns: string[];
  /** e.g. unknown column "Foo" (ignored). */
  warnings: string[];
  /** The file's own header text of each of COLUMNS (trimmed, cut): what errors name a column by. */
  names?: string[];
}

export type ReadBatch = { rows: ParsedRow[]; invalid: InvalidRow[] };

export interface ReadTotals {
  /** Of the raw bytes of the whole file, BOM included (also when reading stopped at a fatal problem). */
  sha256: string;
  bytes: number;
  /** Data rows seen (valid + invalid). */
  records: number;
  /** File-level problem that stopped reading (bad UTF-8, missing required column, broken quoting, record too large). */
  fatal?: ValidationIssue;
}

export interface ReadOptions {
  /** Largest record accepted, in bytes (default 1 MiB). */
  maxRecordBytes?: number;
  /** Records per batch (default 1000). */
  batchSize?: number;
  /** An OpenPGP file's largest decrypted (and decompressed) size, in bytes (default 4 GiB: src/csv/decrypt.ts). */
  maxPlaintextBytes?: number;
}
