import type { Queryable } from '../store/db.js';
import type { KeyField } from './checks.js';
import type { KnownMembers } from './known.js';
import type { Hash64 } from './row-hash.js';
import { EARLIER_STAGED, FIRST, ValueWatch } from './value-watch.js';

/** Rows sent back to the database at a time (recalled rows, absent keys). */
const CHUNK = 5000;

/** What takeValid / takeInvalid tell about a row's member (bits). */
export const KNOWN = 1;
export const ON_PLATFORM = 2;
export const SAME = 4;
/** The row is left out of the staging table. */
export const LEFT_OUT = 8;

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
  private recallLines: number[] = [];
  private recallKeys: string[] = [];
  private watch: ValueWatch | null;

  constructor(
    private readonly known: KnownMembers,
    readonly key: KeyField,
    private readonly options: {
      /** Whether the file has a column for the other unique field (employee_id under the email key, or email). */
      watchOther: boolean;
      /** Leave unchanged rows out (off: every row is staged, as a check that the result is the same). */
      leaveOut: boolean;
      /** The members' column that holds the file's key values (not member_key while the store awaits re-keying). */
      keyColumn: 'member_key' | 'email' | 'employee_id';
    },
  ) {
    this.watch = options.watchOther && options.leaveOut ? new ValueWatch(known.size) : null;
  }

  get skipped(): number {
    return this.skippedOnPlatform + this.skippedQuiet;
  }

  /**
   * A valid row: LEFT_OUT, or what is known of its member (KNOWN, ON_PLATFORM, SAME bits). KEY / OTHER:
   * its normalised key and other unique value; INVITABLE: its status and eligibility allow an invite.
   */
  takeValid(line: number, key: string | null, other: string | null, hash: Hash64, invitable: boolean): number {
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
          skip = this.options.leaveOut && (state & SAME) !== 0 && (!invitable || (state & ON_PLATFORM) !== 0);
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
    this.known.markSkipped(member, line);
    if (state & ON_PLATFORM) this.skippedOnPlatform++;
    else this.skippedQuiet++;
    return LEFT_OUT;
  }

  /** An invalid row (always staged, with its key values): what is known of its member. */
  takeInvalid(key: string | null, other: string | null): number {
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
    this.recallLines.push(this.known.unskip(member));
    this.recallKeys.push(this.known.keyOf(member));
    if (this.known.isOnPlatform(member)) this.skippedOnPlatform--;
    else this.skippedQuiet--;
  }

  get pendingRecalls(): number {
    return this.recallLines.length;
  }

  /** Stages the recalled rows again from the stored members (their content equals the stored row). */
  async flushRecalls(client: Queryable, tenantId: string, stageTable: string, columns: readonly string[]): Promise<void> {
    while (this.recallLines.length > 0) {
      const lines = this.recallLines.splice(0, CHUNK);
      const keys = this.recallKeys.splice(0, CHUNK);
      const cells = columns.map((_, i) => `coalesce(d.data->>$${i + 4}, '')`);
      await client.query(
        `insert into ${stageTable}
         select r.line, true, m.email, m.employee_id, m.row_hash, m.on_platform, true${cells.length ? `, ${cells.join(', ')}` : ''}
         from unnest($1::int[], $2::text[]) r(line, k)
         join members m on m.tenant_id = $3 and m.${this.options.keyColumn} = r.k
         join member_rows d on d.tenant_id = $3 and d.member_key = m.member_key`,
        [lines, keys, tenantId, ...columns],
      );
    }
  }

  /** The members no row mentioned, into a temporary table ABSENT (k, on_platform): deletions and forgets. */
  async writeAbsent(client: Queryable, absentTable: string): Promise<void> {
    await client.query(`create temp table ${absentTable} (k text primary key, on_platform boolean not null) on commit drop`);
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
    await client.query(`analyze ${absentTable}`);
    // Everything the filter knows is in the database now.
    this.known.release();
    this.watch = null;
  }
}
