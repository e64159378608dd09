import type { Queryable } from '../store/db.js';
import type { KeyField } from './checks.js';
import type { KnownMembers } from './known.js';
import type { Hash64 } from './row-hash.js';
import { EARLIER_STAGED, FIRST, ValueWatch } from './value-watch.js';

/** Rows sent back to the database at a time (recalled rows, absent keys). */
const CHUNK = 5000;

/**
 * Decides, row by row while the file is read, which rows the database never needs to see: a valid row
 * whose content is unchanged (same row hash as the stored member) is left out, so the diff works on the
 * changed rows only (a few percent of a typical file) instead of the whole file. That is outcome
 * "unchanged" for a member on the platform and "nothing (not invitable)" for one not on it; an unchanged
 * row that is invitable without being on the platform is an invite, and is staged.
 *
 * Everything else about such a row must still come out as if it had been staged:
 * - it mentions its member, so the member is not a deletion (only members no row mentions are written
 *   to the absent table the diff reads);
 * - it may share its key or its email / employee_id with a later row. Keys are matched exactly here;
 *   the other unique field is watched by fingerprint. When a later row repeats a value of a row that was
 *   left out, that row is recalled: staged from the stored member (its content is the stored content), so
 *   the database's duplicate checks see every row involved, exactly as without the filter.
 */
export class RowFilter {
  /** Rows left out (and not recalled) of members on the platform: unchanged. */
  skippedOnPlatform = 0;
  /** Rows left out (and not recalled) of members not on the platform: not invitable. */
  skippedQuiet = 0;
  private recallLines: number[] = [];
  private recallKeys: string[] = [];
  private readonly watch: ValueWatch | null;

  constructor(
    private readonly known: KnownMembers,
    readonly key: KeyField,
    /** Whether the file has a column for the other unique field (employee_id under the email key, or email). */
    watchOther: boolean,
  ) {
    this.watch = watchOther ? new ValueWatch(known.size) : null;
  }

  get skipped(): number {
    return this.skippedOnPlatform + this.skippedQuiet;
  }

  /**
   * A valid row; true when it is left out. KEY / OTHER: its normalised key and other unique value;
   * INVITABLE: its status and eligibility allow an invite.
   */
  takeValid(line: number, key: string | null, other: string | null, hash: Hash64, invitable: boolean): boolean {
    let member = -1;
    let skip = false;
    if (key !== null) {
      member = this.known.find(key);
      if (member >= 0) {
        if (this.known.isSeen(member)) this.recall(member);
        else {
          this.known.markSeen(member);
          skip = this.known.hashEquals(member, hash.high, hash.low) && (!invitable || this.known.isOnPlatform(member));
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
    if (skip) {
      this.known.markSkipped(member, line);
      if (this.known.isOnPlatform(member)) this.skippedOnPlatform++;
      else this.skippedQuiet++;
    }
    return skip;
  }

  /** An invalid row (always staged, with its key values). */
  takeInvalid(key: string | null, other: string | null): void {
    if (key !== null) {
      const member = this.known.find(key);
      if (member >= 0) {
        if (this.known.isSeen(member)) this.recall(member);
        else this.known.markSeen(member);
      }
    }
    if (this.watch && other !== null) {
      const earlier = this.watch.add(other, EARLIER_STAGED);
      if (earlier >= 0) this.recall(earlier);
    }
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
         select r.line, true, m.email, m.employee_id, m.row_hash${cells.length ? `, ${cells.join(', ')}` : ''}
         from unnest($1::int[], $2::text[]) r(line, k)
         join members m on m.tenant_id = $3 and m.member_key = r.k
         join member_rows d on d.tenant_id = $3 and d.member_key = r.k`,
        [lines, keys, tenantId, ...columns],
      );
    }
  }

  /** The members no row mentioned, into a temporary table ABSENT (k text): the deletion candidates. */
  async writeAbsent(client: Queryable, absentTable: string): Promise<void> {
    await client.query(`create temp table ${absentTable} (k text primary key) on commit drop`);
    let keys: string[] = [];
    const flush = async () => {
      if (keys.length > 0) await client.query(`insert into ${absentTable} select unnest($1::text[])`, [keys]);
      keys = [];
    };
    for (const key of this.known.unseenKeys()) {
      keys.push(key);
      if (keys.length >= CHUNK) await flush();
    }
    await flush();
    await client.query(`analyze ${absentTable}`);
  }
}
