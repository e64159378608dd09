import type { TenantConfig } from '../config/tenant.js';
import type { ValidationIssue } from '../csv/types.js';
import { chooseKey } from '../diff/checks.js';
import { UnusableFileError, type KeyField } from '../diff/types.js';
import { checkErrors, checkFile, requireKeyInMemory } from './checks.js';
import { mergeIssues } from './merge.js';
import { fatalOf, layoutOf } from './layout.js';
import { INVITABLE, scanFile, type MemberMatch, type MemoryFile } from './scan.js';

/** PREVIOUS of `preview --against`, taken as the tenant's first file: its members, in memory. */
export interface PreviousState {
  key: KeyField;
  /** Rows of PREVIOUS (the shrink guardrail compares with it). */
  records: number;
  columns: string[];
  match: MemberMatch;
  /** Member i is PREVIOUS's i-th row (every row is valid, one per key). */
  members: number;
  /** Per member, its row's bits (src/preview/scan.ts): INACTIVE / INELIGIBLE tell what a missing column would change. */
  keptOut: Uint16Array;
}

/**
 * Reads PREVIOUS as the engine's `force` first file does (src/diff/run.ts): a file that cannot be read,
 * or has any invalid row, is unusable (UnusableFileError with the engine's message); otherwise every row
 * is a member, on the platform when invitable. Kept: the keys (one string table), row hashes and flags.
 */
export async function loadPrevious(file: MemoryFile, tenant: TenantConfig, onProgress?: (n: number) => void): Promise<PreviousState> {
  const scan = await scanFile(file, tenant, { keepHashes: true, onProgress });
  const fatal = fatalOf(scan);
  if (fatal) throw UnusableFileError.unreadable(file.name, fatal);
  const layout = layoutOf(scan.header.columns);
  const checks = await checkFile(file, tenant, scan, { email: layout.email >= 0, employeeId: layout.employeeId >= 0 });
  const key = chooseKey(layout, scan.stats, tenant.key, null);
  requireKeyInMemory(scan, key, checks);
  const invalid = scan.stats.invalidRows + checks.invalidated;
  if (invalid > 0) {
    const first: ValidationIssue[] = [];
    for (const issue of mergeIssues(scan.issues, checkErrors(scan, checks, layout.employeeId >= 0))) {
      if (first.length === 10) break;
      first.push(issue);
    }
    throw UnusableFileError.invalidRows(file.name, invalid, scan.stats.errorCount + checks.errors, first);
  }
  const keys = key === 'email' ? scan.emails : scan.employeeIds;
  // Every row valid: each has the key, and no two share it, so key id i is row i.
  if (keys.size !== scan.rows) throw new Error(`internal: ${keys.size} keys for ${scan.rows} rows`);
  const onPlatform = new Uint8Array(scan.rows);
  for (let i = 0; i < scan.rows; i++) onPlatform[i] = scan.flags[i]! & INVITABLE ? 1 : 0;
  return {
    key,
    records: scan.totals.records,
    columns: scan.header.columns,
    members: scan.rows,
    keptOut: scan.flags.subarray(0, scan.rows),
    match: { key, keys, hashHigh: scan.hashHigh!, hashLow: scan.hashLow!, onPlatform, seen: new Uint8Array(scan.rows) },
  };
}
