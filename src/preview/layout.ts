import type { ValidationIssue } from '../csv/types.js';
import type { StageLayout } from '../diff/types.js';
import type { FileScan } from './scan.js';

/** Where the well-known fields sit among the file's columns, as the engine's staging layout says. */
export function layoutOf(columns: string[]): StageLayout {
  return { table: '', columns, email: columns.indexOf('email'), employeeId: columns.indexOf('employee_id'), status: columns.indexOf('status') };
}

/** The problem that stopped reading the file, as the engine records it (src/diff/run.ts). */
export function fatalOf(scan: FileScan): ValidationIssue | undefined {
  return scan.totals.fatal ?? (scan.headerFailure !== undefined ? { line: 1, column: '', value: '', message: scan.headerFailure } : undefined);
}
