import type { Queryable } from '../store/db.js';
import type { KnownMembers } from './known.js';
import type { Hash64 } from './row-hash.js';
import { KNOWN, LEFT_OUT, ON_PLATFORM, SAME, type KeyField, type LeftOut, type RecalledRow, type StageLayout } from './types.js';
import { EARLIER_STAGED, FIRST, ValueWatch } from './value-watch.js';

/** Absent keys sent to the database at a time. */
const CHUNK = 5000;

/** The stored members in memory, and how the file's rows are matched to them. */
export interface KnownIndex {
  members: KnownMembers;
  key: KeyField;
  /** The members' column that holds the file's key values (not member_key while the store awaits re-keying). */
  keyColumn: 'member_key' | KeyField;
}

/**
 * Matches the file's rows against the stored members (src/diff/known.ts) while the file is read, so that
 * the database never needs the members table for the diff: each staged row carries whether its member is
 * stored, on the platform, and unchanged (same row hash), and the members no row mentions go to an absent
 * table.
 *
 * And it leaves rows out: a valid row whose content is unchanged is not staged at all, so the diff works on
 * the changed rows only (a few percent of a typical file) instead of the whole file. That is outcome
 * "unchanged" for a member on the platform and "nothing (not invitable)" for one not on it; an unchanged
 * row that is invitable without being on the platform is an invite, and is staged.
 *
 * Everything else about a left-out row must still come out as if it had been staged: it may share its key
 * or its email / employee_id with a later row. Keys are matched exactly here; the other unique field is
 * watched by fingerprint. When a later row repeats a value of a row that was left out, that row is
 * recalled: staged from the stored member (its content is the stored content), so the database's duplicate
 * checks see every row involved, exactly as without leaving anything out.
 */
export class RowFilter {
  /** Rows left out (and not recalled) of members on the platform: unchanged. */
  skippedOnPlatform = 0;
  /** Rows left out (and not recalled) of members not on the platform: not invitable. */
  skippedQuiet = 0;
  private recalled: RecalledRow[] = [];
  private watch: ValueWatch | null;
  private readonly byEmail: boolean;
  /** The field rows are matched by. */
  readonly key: KeyField;

  private readonly known: KnownMembers;
  private readonly leaveOut: boolean;
  /** The members' column holding the file's key values (for staging recalled rows from the store). */
  readonly keyColumn: KnownIndex['keyColumn'];

  /** LEAVE_OUT false: every row is staged (a check that the result is the same either way). */
  constructor(index: KnownIndex, layout: StageLayout, options: { leaveOut: boolean }) {
    this.known = index.members;
    this.keyColumn = index.keyColumn;
    this.leaveOut = options.leaveOut;
    this.key = index.key;
    this.byEmail = index.key === 'email';
    // The other unique field, when the file has it: employee_id under the email key, else email.
    const hasOther = (this.byEmail ? layout.employeeId : layout.email) >= 0;
    this.watch = hasOther && options.leaveOut ? new ValueWatch(index.members.size) : null;
  }

  get skipped(): number {
    return this.skippedOnPlatform + this.skippedQuiet;
  }

  /**
   * A valid row: LEFT_OUT, or what is known of its member (KNOWN, ON_PLATFORM, SAME bits). EMAIL (lower-cased)
   * and EMPLOYEE_ID: null when blank; INVITABLE: its status and eligibility allow an invite.
   */
  takeValid(line: number, email: string | null, employeeId: string | null, hash: Hash64, invitable: boolean): number {
    const key = this.byEmail ? email : employeeId;
    const other = this.byEmail ? employeeId : email;
    let member = -1;
    let state = 0;
    let skip = false;
    if (key !== null) {
      member = this.known.find(key);
      if (member >= 0) {
        state = this.stateOf(member) | (this.known.hashEquals(member, hash.high, hash.low) ? SAME : 0);
        if (this.known.isSeen(member)) this.recall(member);
        else {
          this.known.markSeen(member);
          skip = this.leaveOut && (state & SAME) !== 0 && (!invitable || (state & ON_PLATFORM) !== 0);
        }
      }
    }
    if (this.watch && other !== null) {
      const earlier = this.watch.add(other, skip ? member : EARLIER_STAGED);
      if (earlier !== FIRST) {
        skip = false;
        if (earlier >= 0) this.recall(earlier);
      }
    }
    if (!skip) return state;
    this.known.markSkipped(member, line, invitable);
    if (state & ON_PLATFORM) this.skippedOnPlatform++;
    else this.skippedQuiet++;
    return LEFT_OUT;
  }

  /** An invalid row (always staged, with its key values): what is known of its member. */
  takeInvalid(email: string | null, employeeId: string | null): number {
    const key = this.byEmail ? email : employeeId;
    const other = this.byEmail ? employeeId : email;
    let state = 0;
    if (key !== null) {
      const member = this.known.find(key);
      if (member >= 0) {
        state = this.stateOf(member);
        if (this.known.isSeen(member)) this.recall(member);
        else this.known.markSeen(member);
      }
    }
    if (this.watch && other !== null) {
      const earlier = this.watch.add(other, EARLIER_STAGED);
      if (earlier >= 0) this.recall(earlier);
    }
    return state;
  }

  private stateOf(member: number): number {
    return KNOWN | (this.known.isOnPlatform(member) ? ON_PLATFORM : 0);
  }

  private recall(member: number): void {
    if (!this.known.isSkipped(member)) return;
    const { line, invitable } = this.known.unskip(member);
    this.recalled.push({ line, key: this.known.keyOf(member), invitable });
    if (this.known.isOnPlatform(member)) this.skippedOnPlatform--;
    else this.skippedQuiet--;
  }

  get hasRecalls(): boolean {
    return this.recalled.length > 0;
  }

  /** The rows recalled since the last call, for the stage writer to stage from the stored members. */
  takeRecalls(): RecalledRow[] {
    const recalled = this.recalled;
    this.recalled = [];
    return recalled;
  }

  /**
   * The members no row mentioned, into a temporary table ABSENT_TABLE (k, on_platform, member_key):
   * deletions and forgets. K is the member's value of the file's key; MEMBER_KEY its stored key, filled in only
   * while the store awaits re-keying (null: K; the store is re-keyed when the run is applied, after the
   * diff). The file has been read: returns what was left out, for the diff.
   */
  async writeAbsent(client: Queryable, absentTable: string, tenantId: string): Promise<LeftOut> {
    await client.query(`create temp table ${absentTable} (k text primary key, on_platform boolean not null, member_key text) on commit drop`);
    let keys: string[] = [];
    let flags: boolean[] = [];
    const flush = async () => {
      if (keys.length > 0) await client.query(`insert into ${absentTable} select * from unnest($1::text[], $2::boolean[])`, [keys, flags]);
      keys = [];
      flags = [];
    };
    for (const member of this.known.unseen()) {
      keys.push(this.known.keyOf(member));
      flags.push(this.known.isOnPlatform(member));
      if (keys.length >= CHUNK) await flush();
    }
    await flush();
    if (this.keyColumn !== 'member_key') {
      await client.query(`update ${absentTable} a set member_key = m.member_key from members m where m.tenant_id = $1 and m.${this.keyColumn} = a.k`, [
        tenantId,
      ]);
    }
    await client.query(`analyze ${absentTable}`);
    // Everything the filter knows is in the database now.
    this.known.release();
    this.watch = null;
    return { unchanged: this.skippedOnPlatform, notInvitable: this.skippedQuiet, absentTable };
  }
}
