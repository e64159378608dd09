/**
 * The engine's shared shapes and constants, in one place that imports nothing of the engine's, so the
 * engine's files read one way: filter.ts -> stage.ts -> checks.ts -> diff.ts (each needs only what came
 * before it, and this file).
 */

import { maskError, type MaskableError } from '../text/mask.js';

/**
 * A file that cannot be used as the state it was meant to set (baseline, preview --against). Here, not in
 * run.ts: the in-memory preview throws it too, and must not load the database engine to do so.
 */
export class UnusableFileError extends Error {
  override name = 'UnusableFileError';

  /** A file that could not be read: where, and why (masked as for invalidRows). */
  static unreadable(fileName: string, fatal: MaskableError): UnusableFileError {
    return new UnusableFileError(`${fileName}: line ${fatal.line}: ${maskError(fatal)}`);
  }

  /**
   * A file with invalid rows, and its first issues: line, column and reason, each value masked (the
   * message reaches the command line's error output and logs; the line and column find it in the file).
   */
  static invalidRows(fileName: string, invalid: number, errors: number, first: (MaskableError & { column: string | null })[]): UnusableFileError {
    const list = first.map((i) => `line ${i.line}, ${i.column}: ${maskError(i)}`).join('; ');
    return new UnusableFileError(`${fileName}: ${invalid} invalid row(s), ${errors} error(s): ${list}`);
  }
}

/** The field members are matched by. */
export type KeyField = 'employee_id' | 'email';

/** Where the well-known fields sit among the file's columns (-1 = the file has no such column). */
export interface StageLayout {
  table: string;
  columns: string[];
  email: number;
  employeeId: number;
  status: number;
}

export interface StageStats {
  validRows: number;
  invalidRows: number;
  /** Valid rows without an employee_id. */
  validWithoutEmployeeId: number;
  /** Invalid rows without an employee_id / an email (their member cannot be found by that key). */
  invalidWithoutEmployeeId: number;
  invalidWithoutEmail: number;
  /**
   * Invalid rows whose key value cannot be trusted (src/fields/row.ts keyValueTrusted) and names no stored
   * member: a deleted member may be theirs. Counted against the stored members' key, when there are any.
   */
  invalidUnmatched: number;
  /** Errors written to run_errors so far (the next seq). */
  errorCount: number;
  /** Time spent waiting for the database to take a batch (the reader was faster). */
  waitMs: number;
}

/** What the row filter's takeValid / takeInvalid tell about a row's member (bits). */
export const KNOWN = 1;
export const ON_PLATFORM = 2;
export const SAME = 4;
/** The row is left out of the staging table. */
export const LEFT_OUT = 8;

/** A left-out row that must be staged after all, from its stored member (whose content it equals). */
export interface RecalledRow {
  line: number;
  /** The member's key, as the file's key column holds it. */
  key: string;
  invitable: boolean;
}

/** What the filter (src/diff/filter.ts) left out of the staged file, and the table of members no row mentioned. */
export interface LeftOut {
  /** Rows of members on the platform, unchanged. */
  unchanged: number;
  /** Rows of members not on the platform, unchanged and not invitable. */
  notInvitable: number;
  absentTable: string;
}

/** Counters of a staged (or scanned) file, all zero. */
export function emptyStageStats(): StageStats {
  return { validRows: 0, invalidRows: 0, validWithoutEmployeeId: 0, invalidWithoutEmployeeId: 0, invalidWithoutEmail: 0, invalidUnmatched: 0, errorCount: 0, waitMs: 0 };
}
