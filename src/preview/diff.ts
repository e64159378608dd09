import { emptyCounts, type DiffCounts } from '../diff/diff.js';
import type { KeptOutInvites } from '../types.js';
import { INACTIVE, INELIGIBLE, INVITABLE, KNOWN, ON_PLATFORM, SAME, VALID, type FileScan } from './scan.js';
import type { PreviousState } from './previous.js';
import { IntColumn } from './strings.js';

/** The diff of a scanned file against the previous state, before the changed rows are compared field by field. */
export interface MemoryDiff {
  /** Counts; `unchanged` still includes the compared rows, minus the updates once they are known. */
  counts: DiffCounts;
  onPlatformBefore: number;
  carried: number;
  /** Rows of members on the platform whose row hash differs: compared field by field (update or not). */
  compare: Int32Array;
  /** Members on the platform that no row mentions: deletions. */
  deleted: Int32Array;
  /** Invites of PREVIOUS's members kept from an invite by a column this file lacks (src/diff/diff.ts keptOutInvites). */
  keptOut: KeptOutInvites;
}

/**
 * Every outcome of src/diff/diff.ts from the scan's bits: a valid row is an invite (invitable, not on
 * the platform), not invitable (not on the platform), unchanged (same hash) or to compare; a member only
 * invalid rows name is carried forward; a member no row names is deleted (on the platform) or forgotten.
 */
export function diffInMemory(scan: FileScan, previous: PreviousState | null): MemoryDiff {
  const counts = emptyCounts();
  const keptOut: KeptOutInvites = { inactive: 0, ineligible: 0 };
  // A column the file lacks counts as active / eligible: what the previous row said then matters.
  const columns = scan.header.columns;
  const missing = (columns.includes('status') ? 0 : INACTIVE) | (columns.includes('program_eligibility') ? 0 : INELIGIBLE);
  const compare = new IntColumn();
  let compared = 0;
  const members = previous?.members ?? 0;
  const hasValid = new Uint8Array(members);
  const hasInvalid = new Uint8Array(members);
  for (let i = 0; i < scan.rows; i++) {
    const flags = scan.flags[i]!;
    if (flags & VALID) {
      if (!(flags & ON_PLATFORM)) {
        if (flags & INVITABLE) {
          counts.invites++;
          const was = flags & KNOWN ? previous!.keptOut[scan.member![i]!]! & missing : 0;
          if (was & INACTIVE) keptOut.inactive++;
          if (was & INELIGIBLE) keptOut.ineligible++;
        } else counts.notInvitable++;
      } else {
        counts.unchanged++;
        if (!(flags & SAME)) compare.set(compared++, i);
      }
      if (flags & KNOWN) hasValid[scan.member![i]!] = 1;
    } else if (flags & KNOWN) hasInvalid[scan.member![i]!] = 1;
  }
  let onPlatformBefore = 0;
  let carried = 0;
  const deleted = new IntColumn();
  let deletions = 0;
  for (let m = 0; m < members; m++) {
    const onPlatform = previous!.match.onPlatform[m] === 1;
    if (onPlatform) onPlatformBefore++;
    if (!previous!.match.seen[m]) {
      if (onPlatform) deleted.set(deletions++, m);
    } else if (hasInvalid[m] && !hasValid[m]) carried++;
  }
  counts.deletions = deletions;
  return { counts, onPlatformBefore, carried, compare: compare.data.slice(0, compared), deleted: deleted.data.slice(0, deletions), keptOut };
}
