import type { TenantConfig } from '../config/tenant.js';
import { openMembershipFile, type OpenedFile } from '../csv/open.js';
import type { FileHeader, InvalidRow, ParsedRow, ReadTotals, ValidationIssue } from '../csv/types.js';
import type { KeyField } from '../diff/types.js';
import { RowHasher } from '../diff/row-hash.js';
import { isInvitable } from '../diff/stage.js';
import { keyValueTrusted } from '../fields/row.js';
import { emptyStageStats, type StageStats } from '../diff/types.js';
import { IntColumn, StringTable } from './strings.js';

/** A file as the in-memory preview reads it (may be opened more than once: a scan, then the outputs). */
export interface MemoryFile {
  name: string;
  open(): import('node:stream').Readable;
}

/** Per-row bits of a scan. */
export const READ_VALID = 1; // the reader found no problem with the row
export const VALID = 2; // still valid after the file's checks (duplicates, key)
export const INVITABLE = 4;
export const KNOWN = 8; // its key matches a member of the previous state
export const ON_PLATFORM = 16; // ... who is on the platform
export const SAME = 32; // ... with the same row hash
export const DUP_EMAIL = 64;
export const DUP_EMPLOYEE_ID = 128;
export const MISSING_KEY = 256;
export const HAS_EMPLOYEE_ID = 512;
export const INACTIVE = 1024; // a valid row whose status is inactive
export const INELIGIBLE = 2048; // ... whose program_eligibility is ineligible

/** Reader issues kept in memory (the summary shows the first 100; the errors file reads the file again). */
const KEPT_ISSUES = 100;

/** The previous state's members, as a scan of the next file matches its rows against them. */
export interface MemberMatch {
  key: KeyField;
  keys: StringTable;
  hashHigh: Uint32Array;
  hashLow: Uint32Array;
  onPlatform: Uint8Array;
  /** Set by the scan: how many rows of the file carry the member's key (at most 255). */
  seen: Uint8Array;
}

/**
 * One pass over a file: per row (in line order) its line, bits and, when matched against a previous
 * state, its member; the file's emails and employee ids in string tables (with a match, the key field's
 * table holds only the values no member has: the members count their own rows); the reader's totals,
 * counts like the staging writer's, and the first reader issues. No row values are kept: ~10 bytes a row
 * besides the two tables.
 */
export interface FileScan {
  header: FileHeader;
  headerFailure?: string;
  totals: ReadTotals;
  rows: number;
  line: Int32Array;
  flags: Uint16Array;
  match: MemberMatch | null;
  /** Matched member per row, -1 = none (only with a match). */
  member: Int32Array | null;
  /** Row hashes (only when asked: the previous file's). */
  hashHigh: Uint32Array | null;
  hashLow: Uint32Array | null;
  emails: StringTable;
  employeeIds: StringTable;
  stats: StageStats;
  issues: ValidationIssue[];
  issueCount: number;
}

export interface ScanOptions {
  match?: MemberMatch;
  keepHashes?: boolean;
  onProgress?: (records: number) => void;
  /** Told whether (and how) the file was encrypted (src/csv/open.ts). */
  opened?: OpenedFile;
}

/** Rows per reader batch (as the engine stages them). */
export const BATCH_SIZE = 2000;

/** Valid and invalid rows of a batch, merged into line order. */
export function* inLineOrder(rows: ParsedRow[], invalid: InvalidRow[]): Generator<ParsedRow | InvalidRow> {
  let v = 0;
  let i = 0;
  while (v < rows.length || i < invalid.length) {
    if (i >= invalid.length || (v < rows.length && rows[v]!.line < invalid[i]!.line)) yield rows[v++]!;
    else yield invalid[i++]!;
  }
}

export async function scanFile(file: MemoryFile, tenant: TenantConfig, options: ScanOptions = {}): Promise<FileScan> {
  const reading = openMembershipFile(file, tenant, { batchSize: BATCH_SIZE }, options.opened);
  reading.totals.catch(() => undefined);
  let header: FileHeader;
  let headerFailure: string | undefined;
  try {
    header = await reading.header;
  } catch (error) {
    header = { columns: [], warnings: [] };
    headerFailure = (error as Error).message;
  }
  const rows = new RowColumns(header.columns, options);
  if (!headerFailure) {
    for await (const batch of reading.batches) {
      for (const row of inLineOrder(batch.rows, batch.invalid)) rows.take(row);
      options.onProgress?.(rows.count);
    }
  }
  const totals = await reading.totals;
  return rows.result(header, headerFailure, totals);
}

/** The same bytes read as unsigned (a row hash's halves). */
const unsigned = (values: Int32Array) => new Uint32Array(values.buffer, values.byteOffset, values.length);

/** The per-row columns of a scan while it reads. */
class RowColumns {
  count = 0;
  private readonly line = new IntColumn();
  private flags = new Uint16Array(1024);
  private readonly member: IntColumn | null;
  private readonly high: IntColumn | null;
  private readonly low: IntColumn | null;
  private readonly emails = new StringTable();
  private readonly employeeIds = new StringTable();
  private readonly hasher: RowHasher;
  private readonly match: MemberMatch | undefined;
  readonly stats: StageStats = emptyStageStats();
  private readonly issues: ValidationIssue[] = [];

  constructor(columns: string[], options: ScanOptions) {
    this.hasher = new RowHasher(columns);
    this.match = options.match;
    this.member = options.match ? new IntColumn() : null;
    this.high = options.keepHashes ? new IntColumn() : null;
    this.low = options.keepHashes ? new IntColumn() : null;
  }

  take(row: ParsedRow | InvalidRow): void {
    const i = this.count++;
    if (i >= this.flags.length) {
      const grown = new Uint16Array(this.flags.length * 2);
      grown.set(this.flags);
      this.flags = grown;
    }
    const valid = !('issues' in row);
    const rawEmail = row.values.email;
    const email = rawEmail ? withoutNul(rawEmail.toLowerCase()) : null;
    const employeeId = row.values.employee_id ? withoutNul(row.values.employee_id) : null;
    let flags = employeeId === null ? 0 : HAS_EMPLOYEE_ID;
    if (valid) {
      flags |= READ_VALID | VALID;
      this.stats.validRows++;
      if (employeeId === null) this.stats.validWithoutEmployeeId++;
      if (isInvitable(row.values)) flags |= INVITABLE;
      if (row.values.status === 'inactive') flags |= INACTIVE;
      if (row.values.program_eligibility === 'ineligible') flags |= INELIGIBLE;
      this.hasher.hash(row.values);
      this.high?.set(i, this.hasher.high | 0);
      this.low?.set(i, this.hasher.low | 0);
    } else {
      this.stats.invalidRows++;
      if (email === null) this.stats.invalidWithoutEmail++;
      if (employeeId === null) this.stats.invalidWithoutEmployeeId++;
      for (const issue of (row as InvalidRow).issues) {
        if (this.issues.length < KEPT_ISSUES) this.issues.push(cleanIssue(issue));
        this.stats.errorCount++;
      }
    }
    this.line.set(i, row.line);
    const byEmail = this.match?.key === 'email';
    let member = -1;
    if (this.match) {
      member = this.matchRow(i, byEmail ? email : employeeId);
      if (member >= 0) flags |= this.stateOf(member, valid);
      else if (!valid && (byEmail ? email : employeeId) !== null && !keyValueTrusted(row as InvalidRow, this.match.key)) this.stats.invalidUnmatched++;
    }
    // A value its member counts is not added (see FileScan).
    if (email !== null && !(byEmail && member >= 0)) this.emails.add(email);
    if (employeeId !== null && !(this.match && !byEmail && member >= 0)) this.employeeIds.add(employeeId);
    this.flags[i] = flags;
  }

  /** The row's member (-1: none), counted as seen. */
  private matchRow(i: number, key: string | null): number {
    const match = this.match!;
    const member = key === null ? -1 : match.keys.find(key);
    this.member!.set(i, member);
    if (member >= 0 && match.seen[member]! < 255) match.seen[member]!++;
    return member;
  }

  /** What is known of the row's member (the engine's row filter, without leaving anything out). */
  private stateOf(member: number, valid: boolean): number {
    const match = this.match!;
    let flags = KNOWN | (match.onPlatform[member] ? ON_PLATFORM : 0);
    if (valid && match.hashHigh[member] === this.hasher.high && match.hashLow[member] === this.hasher.low) flags |= SAME;
    return flags;
  }

  result(header: FileHeader, headerFailure: string | undefined, totals: ReadTotals): FileScan {
    const n = this.count;
    return {
      header,
      ...(headerFailure !== undefined ? { headerFailure } : {}),
      totals,
      rows: n,
      // Views, not copies: a copy would double the columns for a moment (the spare capacity is < 2x).
      line: this.line.prefix(n),
      flags: this.flags.subarray(0, n),
      match: this.match ?? null,
      member: this.member ? this.member.prefix(n) : null,
      hashHigh: this.high ? unsigned(this.high.prefix(n)) : null,
      hashLow: this.low ? unsigned(this.low.prefix(n)) : null,
      emails: this.emails,
      employeeIds: this.employeeIds,
      stats: this.stats,
      issues: this.issues,
      issueCount: this.stats.errorCount,
    };
  }
}

/** PostgreSQL text cannot hold NUL: the engine stores U+FFFD instead (src/diff/stage.ts). */
export function withoutNul(value: string): string {
  return value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
}

export function cleanIssue(issue: ValidationIssue): ValidationIssue {
  return { line: issue.line, column: issue.column, value: withoutNul(issue.value), message: withoutNul(issue.message) };
}
