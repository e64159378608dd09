import type { KeyField } from '../checks.js';
import type { ValidationIssue } from '../../csv/types.js';
import { DUP_EMAIL, DUP_EMPLOYEE_ID, MISSING_KEY, READ_VALID, VALID, type FileScan } from './scan.js';
import type { StringTable } from './strings.js';

/**
 * The engine's checks across the file (src/diff/checks.ts), in memory: rows sharing an email (case-
 * insensitive) or an employee_id, and, under the employee_id key, valid rows without one. Each row
 * involved gets a bit; its error is built when listed (errorsOf), in the engine's order.
 */
export interface CheckOutcome {
  errors: number;
  invalidated: number;
  /** Under the employee_id key, rows made invalid for lacking one. */
  missingKey: number;
  /** Of each repeated value (by field): the first 7 lines, as the engine lists "also on lines ...". */
  groups: { email: Map<number, number[]>; employee_id: Map<number, number[]> };
}

export function checkFile(scan: FileScan, hasEmailColumn: boolean, hasEmployeeIdColumn: boolean): CheckOutcome {
  const outcome: CheckOutcome = { errors: 0, invalidated: 0, missingKey: 0, groups: { email: new Map(), employee_id: new Map() } };
  if (hasEmailColumn) markRepeated(scan, scan.emailId, scan.emails, DUP_EMAIL, outcome, outcome.groups.email);
  if (hasEmployeeIdColumn) markRepeated(scan, scan.employeeIdId, scan.employeeIds, DUP_EMPLOYEE_ID, outcome, outcome.groups.employee_id);
  return outcome;
}

function markRepeated(scan: FileScan, ids: Int32Array, table: StringTable, bit: number, outcome: CheckOutcome, groups: Map<number, number[]>): void {
  const invalidated: number[] = [];
  for (let i = 0; i < scan.rows; i++) {
    const id = ids[i]!;
    if (id < 0 || table.count(id) < 2) continue;
    scan.flags[i]! |= bit;
    outcome.errors++;
    let lines = groups.get(id);
    if (!lines) groups.set(id, (lines = []));
    if (lines.length < 7) lines.push(scan.line[i]!);
    if (scan.flags[i]! & VALID) invalidated.push(i);
  }
  // Invalid only after the whole check, as the engine's update after its insert.
  for (const i of invalidated) scan.flags[i]! &= ~VALID;
  outcome.invalidated += invalidated.length;
}

/** Under the employee_id key every valid row must carry one (src/diff/checks.ts requireKey). */
export function requireKeyInMemory(scan: FileScan, key: KeyField, outcome: CheckOutcome): void {
  if (key !== 'employee_id' || scan.stats.validWithoutEmployeeId === 0) return;
  for (let i = 0; i < scan.rows; i++) {
    if (scan.flags[i]! & VALID && scan.employeeIdId[i]! < 0) {
      scan.flags[i] = (scan.flags[i]! & ~VALID) | MISSING_KEY;
      outcome.errors++;
      outcome.invalidated++;
      outcome.missingKey++;
    }
  }
}

/** The errors of the checks, in the engine's order for equal lines: email, employee_id, missing key. */
export function* checkErrors(
  scan: FileScan,
  outcome: CheckOutcome,
  employeeIdColumn: boolean,
  /** Email cells of valid rows whose cell is not lower case (the engine shows the cell as it was). */
  emailCells: Map<number, string>,
): Generator<ValidationIssue> {
  for (let i = 0; i < scan.rows; i++) {
    const flags = scan.flags[i]!;
    if ((flags & (DUP_EMAIL | DUP_EMPLOYEE_ID | MISSING_KEY)) === 0) continue;
    const line = scan.line[i]!;
    if (flags & DUP_EMAIL) {
      const id = scan.emailId[i]!;
      const value = (flags & READ_VALID && emailCells.get(i)) || scan.emails.get(id);
      yield { line, column: 'email', value, message: duplicateMessage('email', line, outcome.groups.email.get(id)!, scan.emails.count(id)) };
    }
    if (flags & DUP_EMPLOYEE_ID) {
      const id = scan.employeeIdId[i]!;
      const value = scan.employeeIds.get(id);
      yield { line, column: 'employee_id', value, message: duplicateMessage('employee_id', line, outcome.groups.employee_id.get(id)!, scan.employeeIds.count(id)) };
    }
    if (flags & MISSING_KEY) {
      const message = employeeIdColumn
        ? "employee_id is required: this tenant's members are matched by employee_id"
        : "missing employee_id column: this tenant's members are matched by employee_id";
      yield { line, column: 'employee_id', value: '', message };
    }
  }
}

/** The engine's text (src/diff/checks.ts): the other lines among the first 7, at most 5 listed. */
function duplicateMessage(field: 'email' | 'employee_id', line: number, firstLines: number[], n: number): string {
  const others = firstLines.filter((l) => l !== line);
  return (
    `duplicate ${field}: also on line${n > 2 ? 's ' : ' '}${others.slice(0, 5).join(', ')}` +
    `${n - 1 > 5 ? ` and ${n - 6} more` : ''}` +
    `${field === 'email' ? ' (emails match case-insensitively)' : ''}; each ${field} must be unique in the file`
  );
}
