import type { TenantConfig } from '../config/tenant.js';
import type { ValidationIssue } from '../csv/types.js';
import { columnHeader } from '../diff/source.js';
import type { KeyField } from '../diff/types.js';
import { eachRow } from './passes.js';
import { DUP_EMAIL, DUP_EMPLOYEE_ID, HAS_EMPLOYEE_ID, MISSING_KEY, VALID, withoutNul, type FileScan, type MemoryFile } from './scan.js';
import type { StringTable } from './strings.js';

/**
 * The engine's checks across the file (src/diff/checks.ts), in memory: rows sharing an email (case-
 * insensitive) or an employee_id, and, under the employee_id key, valid rows without one. Each row
 * involved gets a bit; its error is built when listed (checkErrors), in the engine's order.
 */
export interface CheckOutcome {
  errors: number;
  invalidated: number;
  /** Under the employee_id key, rows made invalid for lacking one. */
  missingKey: number;
  /** Each repeated value (by field): its rows and first 7 lines, as the engine lists "also on lines ...". */
  groups: { email: Map<string, Group>; employee_id: Map<string, Group> };
  /** Rows with a repeated value: the value(s), as the engine shows them. */
  repeated: Map<number, Repeated>;
}

export interface Group {
  n: number;
  lines: number[];
  /** Its first row's other identifier (employee_id for an email group, email for an employee_id one), else its content. */
  other?: string | null;
  /** Its rows do not all carry one same other identifier (or, without one, the same content): not one person twice. */
  mixed: boolean;
}

interface Repeated {
  /** The lower-cased email (the group), and the value the error shows (the cell of a valid row). */
  email?: { key: string; shown: string };
  employeeId?: string;
}

/**
 * Finds the repeated emails and employee ids. The scan's tables tell whether any value repeats; only then
 * is the file read again to find the rows (a file without duplicates is read once).
 */
export async function checkFile(file: MemoryFile, tenant: TenantConfig, scan: FileScan, columns: { email: boolean; employeeId: boolean }): Promise<CheckOutcome> {
  const outcome: CheckOutcome = { errors: 0, invalidated: 0, missingKey: 0, groups: { email: new Map(), employee_id: new Map() }, repeated: new Map() };
  const match = scan.match;
  const seenTwice = match !== null && match.seen.some((n) => n > 1);
  if (!scan.emails.repeated && !scan.employeeIds.repeated && !seenTwice) return outcome;
  const occurrences = (value: string, field: KeyField, table: StringTable): number => {
    if (match && match.key === field) {
      const member = match.keys.find(value);
      if (member >= 0) return match.seen[member]!;
    }
    const id = table.find(value);
    return id < 0 ? 0 : table.count(id);
  };
  await eachRow(file, tenant, (row, i) => {
    const rawEmail = row.values.email;
    const email = rawEmail ? withoutNul(rawEmail.toLowerCase()) : null;
    const employeeId = row.values.employee_id ? withoutNul(row.values.employee_id) : null;
    const found: Repeated = {};
    // A row's identity besides the repeated value: the other identifier, else (a valid row) its whole
    // content, serialised only for a row that repeats a value (not once per row of the file).
    const content = () => ('issues' in row ? null : JSON.stringify(row.values));
    if (columns.email && email !== null && occurrences(email, 'email', scan.emails) > 1) {
      found.email = { key: email, shown: 'issues' in row ? email : withoutNul(rawEmail!) };
      join(outcome.groups.email, email, scan.line[i]!, employeeId ?? content());
      scan.flags[i]! |= DUP_EMAIL;
    }
    if (columns.employeeId && employeeId !== null && occurrences(employeeId, 'employee_id', scan.employeeIds) > 1) {
      found.employeeId = employeeId;
      join(outcome.groups.employee_id, employeeId, scan.line[i]!, email ?? content());
      scan.flags[i]! |= DUP_EMPLOYEE_ID;
    }
    if (!found.email && !found.employeeId) return;
    outcome.repeated.set(i, found);
    outcome.errors += (found.email ? 1 : 0) + (found.employeeId ? 1 : 0);
  });
  // Invalid only after both checks have listed their rows, as the engine's updates after its inserts.
  for (const i of outcome.repeated.keys()) {
    if (scan.flags[i]! & VALID) {
      scan.flags[i]! &= ~VALID;
      outcome.invalidated++;
    }
  }
  return outcome;
}

function join(groups: Map<string, Group>, value: string, line: number, other: string | null): void {
  let group = groups.get(value);
  if (!group) groups.set(value, (group = { n: 0, lines: [], other, mixed: false }));
  else if (other === null || group.other === null || other !== group.other) group.mixed = true;
  group.n++;
  if (group.lines.length < 7) group.lines.push(line);
}

/** Under the employee_id key every valid row must carry one (src/diff/checks.ts requireKey). */
export function requireKeyInMemory(scan: FileScan, key: KeyField, outcome: CheckOutcome): void {
  if (key !== 'employee_id' || scan.stats.validWithoutEmployeeId === 0) return;
  for (let i = 0; i < scan.rows; i++) {
    if (scan.flags[i]! & VALID && !(scan.flags[i]! & HAS_EMPLOYEE_ID)) {
      scan.flags[i] = (scan.flags[i]! & ~VALID) | MISSING_KEY;
      outcome.errors++;
      outcome.invalidated++;
      outcome.missingKey++;
    }
  }
}

/** The errors of the checks, in the engine's order for equal lines: email, employee_id, missing key. */
export function* checkErrors(scan: FileScan, outcome: CheckOutcome, employeeIdColumn: boolean): Generator<ValidationIssue> {
  // Named as the customer's file names them, as the engine's checks (src/diff/checks.ts) do.
  const emailColumn = columnHeader(scan.header, 'email');
  const idColumn = columnHeader(scan.header, 'employee_id');
  for (let i = 0; i < scan.rows; i++) {
    const flags = scan.flags[i]!;
    if ((flags & (DUP_EMAIL | DUP_EMPLOYEE_ID | MISSING_KEY)) === 0) continue;
    const line = scan.line[i]!;
    const repeated = outcome.repeated.get(i);
    if (repeated?.email) {
      const group = outcome.groups.email.get(repeated.email.key)!;
      yield { line, column: emailColumn, value: repeated.email.shown, message: duplicateMessage('email', line, group) };
    }
    if (repeated?.employeeId !== undefined) {
      const group = outcome.groups.employee_id.get(repeated.employeeId)!;
      yield { line, column: idColumn, value: repeated.employeeId, message: duplicateMessage('employee_id', line, group) };
    }
    if (flags & MISSING_KEY) {
      const message = employeeIdColumn
        ? "employee_id is required: this tenant's members are matched by employee_id"
        : "missing employee_id column: this tenant's members are matched by employee_id";
      yield { line, column: idColumn, value: '', message };
    }
  }
}

/** The engine's text (src/diff/checks.ts): the other lines among the first 7, at most 5 listed. */
function duplicateMessage(field: 'email' | 'employee_id', line: number, group: Group): string {
  const { n } = group;
  const others = group.lines.filter((l) => l !== line);
  return (
    `duplicate ${field}: also on line${n > 2 ? 's ' : ' '}${others.slice(0, 5).join(', ')}` +
    `${n - 1 > 5 ? ` and ${n - 6} more` : ''}` +
    `${field === 'email' ? ' (emails match case-insensitively)' : ''}; each ${field} must be unique in the file`
  );
}
