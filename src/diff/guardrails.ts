import type { Guardrails } from '../config/tenant.js';
import type { DiffCounts, KeptOutInvites } from '../types.js';

export interface GuardrailInput {
  records: number;
  deletions: number;
  onPlatformBefore: number;
  /** Rows of the tenant's last accepted file; null on a first file. */
  previousRows: number | null;
  /** The dates in the names of this file and of the last accepted one (yyyy-MM-dd), null when a name has none. */
  fileDate?: string | null;
  /** runId null: a previous file that is no stored run (a preview --against PREVIOUS). */
  previous?: { runId: number | null; fileDate: string | null } | null;
  counts?: DiffCounts;
  /** Invites of stored members kept from an invite by a column this file lacks (src/diff/diff.ts keptOutInvites). */
  keptOut?: KeptOutInvites;
}

const number = (n: number) => n.toLocaleString('en-US');
const plural = (n: number, one: string, many = `${one}s`) => `${number(n)} ${n === 1 ? one : many}`;
const percent = (n: number) => `${(Math.round(n * 10) / 10).toFixed(1)}%`;

/** Why a run must be held (empty = it may be applied). */
export function guardrailReasons(limits: Guardrails, input: GuardrailInput): string[] {
  const reasons: string[] = [];
  if (input.records === 0 && limits.holdEmptyFile) {
    reasons.push('the file has no member rows (header only)');
  }
  if (input.deletions > 0 && input.onPlatformBefore > 0) {
    const share = (input.deletions / input.onPlatformBefore) * 100;
    if (share > limits.maxDeletePercent && input.deletions > limits.maxDeleteCount) {
      reasons.push(
        `would delete ${number(input.deletions)} of ${number(input.onPlatformBefore)} members on the platform (${percent(share)}), ` +
          `limit ${limits.maxDeletePercent}% and ${number(limits.maxDeleteCount)}`,
      );
    }
  }
  if (input.previousRows !== null && input.previousRows > 0 && input.records < input.previousRows) {
    const drop = ((input.previousRows - input.records) / input.previousRows) * 100;
    if (drop > limits.maxShrinkPercent) {
      reasons.push(
        `row count dropped from ${number(input.previousRows)} to ${number(input.records)} (-${percent(drop)}) against the last accepted file, ` +
          `limit ${limits.maxShrinkPercent}%`,
      );
    }
  }
  reasons.push(...droppedColumnReasons(input.keptOut));
  const stale = staleFileReason(input);
  if (stale) reasons.push(stale);
  return reasons;
}

/**
 * A file without a status (or program_eligibility) column: the missing column counts as active / eligible
 * (DESIGN.md), so stored members whose stored row says inactive (ineligible), never invited, become
 * invites. A column left out by mistake would invite them all: held when it does, with how many. Counted
 * from the stored rows (src/diff/diff.ts keptOutInvites), so it holds whichever earlier file the column
 * went missing in.
 */
export function droppedColumnReasons(keptOut: KeptOutInvites | undefined): string[] {
  if (!keptOut) return [];
  // One reason per column, each short: an alert shows at most 250 characters of a reason.
  const reason = (column: string, counts: string, n: number, stored: string) =>
    `no ${column} column (a missing one counts as ${counts}): it would invite ${plural(n, 'stored member')} whose stored ${column} is ${stored}; ` +
    'approve only if the customer left the column out on purpose';
  const reasons: string[] = [];
  if (keptOut.inactive > 0) reasons.push(reason('status', 'active', keptOut.inactive, 'inactive'));
  if (keptOut.ineligible > 0) reasons.push(reason('program_eligibility', 'eligible', keptOut.ineligible, 'ineligible'));
  return reasons;
}

/**
 * A file dated before the tenant's last accepted file (a February export uploaded after March's) would
 * undo newer changes: held, with both dates and what it would change. The same date is not older; a
 * name without a date is not compared (its run carries a warning saying so).
 */
export function staleFileReason(input: Pick<GuardrailInput, 'fileDate' | 'previous' | 'counts'>): string | null {
  const { fileDate, previous, counts } = input;
  if (!fileDate || !previous?.fileDate || fileDate >= previous.fileDate) return null;
  const change = counts
    ? `it would invite ${number(counts.invites)}, update ${number(counts.updates)} (${plural(counts.deactivations, 'deactivation')}, ` +
      `${plural(counts.reactivations, 'reactivation')}) and delete ${number(counts.deletions)}`
    : 'its changes are against the newer state';
  return (
    `the file is dated ${fileDate}, before the tenant's last accepted file (${previous.runId === null ? '' : `run ${previous.runId}, `}dated ${previous.fileDate}): ` +
    `diffed against the newer state, ${change}; approve only if the date in its name is wrong (a misnamed file), otherwise reject it`
  );
}

/** The invalid rows of a file taken under the invalid-row policy "skip", as far as deletions are concerned. */
export interface SkippedRows {
  key: 'email' | 'employee_id';
  /** Invalid rows without a value for the key. */
  withoutKey: number;
  /** Invalid rows whose key value no stored member has. */
  unmatched: number;
  /** Rows whose key value another row of the file has too (all of them invalid as duplicates). */
  sharedKey: number;
  deletions: number;
}

/**
 * Skipped invalid rows whose member cannot be identified, in a run that deletes: the deleted members may
 * be theirs (an id left out, cells shifted by a missing separator, an email mistyped under the email key),
 * so the run is held. A skipped row that names a stored member carries that member forward instead.
 */
export function skippedRowReasons(rows: SkippedRows): string[] {
  if (rows.deletions === 0) return [];
  const deletions = `the ${number(rows.deletions)} deletion(s): fix the rows, or approve if the deletions are right`;
  const reasons: string[] = [];
  if (rows.withoutKey > 0) {
    reasons.push(`${number(rows.withoutKey)} invalid row(s) have no ${rows.key}, so their members cannot be told apart from ${deletions}`);
  }
  if (rows.unmatched > 0) {
    reasons.push(
      `${number(rows.unmatched)} invalid row(s) have an ${rows.key} that no stored member has (a damaged row can carry the wrong value), ` +
        `so their members cannot be told apart from ${deletions}`,
    );
  }
  if (rows.sharedKey > 0) {
    // A key two rows claim names at most one of them: the others are other people (an id copied onto the
    // wrong row), whose own member would be deleted as absent while the key's member is carried forward.
    reasons.push(
      `${number(rows.sharedKey)} invalid row(s) share their ${rows.key} with another row, so at most one row of each is that ` +
        `${rows.key}'s member and the others cannot be told apart from ${deletions}`,
    );
  }
  return reasons;
}
