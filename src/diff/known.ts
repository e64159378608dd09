import type { Queryable } from '../store/db.js';

/** Members fetched per query while loading (one aggregated row each). */
const PAGE = 100_000;

const SEEN = 1;
const SKIPPED = 2;
const HAS_HASH = 4;
const ON_PLATFORM = 8;

/**
 * The tenant's stored members, held compactly in memory (keys in one string per page, hashes
 * and flags in typed arrays: about 35 bytes a member), so that the engine can tell while reading a file
 * which rows are unchanged and leave them out of the database work. Exact: keys are compared in full.
 */
export class KnownMembers {
  private readonly pages: string[] = [];
  /** Start of member i's key within its page string; lengths follow from the next start. */
  private starts = new Int32Array(0);
  private lengths = new Int32Array(0);
  private high = new Uint32Array(0);
  private low = new Uint32Array(0);
  private flags = new Uint8Array(0);
  /** Line of the file row a member was skipped on. */
  private lines = new Int32Array(0);
  private table = new Int32Array(0);
  private mask = 0;
  size = 0;

  /**
   * KEY_COLUMN: what identifies a member in the file: its stored key, or (the tenant's key setting just
   * changed, before the store is re-keyed) its email or employee_id column.
   */
  static async load(client: Queryable, tenantId: string, keyColumn: 'member_key' | 'email' | 'employee_id' = 'member_key'): Promise<KnownMembers> {
    const known = new KnownMembers();
    const total = await client.query<{ n: number }>('select count(*)::int as n from members where tenant_id = $1', [tenantId]);
    known.allocate(total.rows[0]?.n ?? 0);
    let after: string | null = null;
    for (;;) {
      // One row per page, so that a million members cost ten rows to parse rather than a million.
      // Hashes not of this version's form (16 hex digits) become dots: never equal.
      const page: { keys: string | null; lengths: string | null; hashes: string | null; flags: string | null; last: string | null } | undefined = (
        await client.query(
          `select string_agg(k, '') as keys, string_agg(length(k)::text, ',') as lengths,
                  string_agg(case when length(row_hash) = 16 then row_hash else '................' end, '') as hashes,
                  string_agg(case when on_platform then '1' else '0' end, '') as flags,
                  max(member_key) as last
           from (select coalesce(${keyColumn}, '') as k, member_key, row_hash, on_platform from members
                 where tenant_id = $1 and ($2::text is null or member_key > $2)
                 order by member_key limit ${PAGE}) p`,
          [tenantId, after],
        )
      ).rows[0];
      if (!page?.lengths) break;
      known.addPage(page.keys ?? '', page.lengths, page.hashes ?? '', page.flags ?? '');
      after = page.last;
      if (known.size > known.starts.length) throw new Error('members changed while loading them (is the tenant locked?)');
    }
    return known;
  }

  private allocate(n: number): void {
    this.starts = new Int32Array(n);
    this.lengths = new Int32Array(n);
    this.high = new Uint32Array(n);
    this.low = new Uint32Array(n);
    this.flags = new Uint8Array(n);
    this.lines = new Int32Array(n);
    let capacity = 16;
    while (capacity < n * 2) capacity *= 2;
    this.table = new Int32Array(capacity).fill(-1);
    this.mask = capacity - 1;
  }

  /** KEYS: the page's keys back to back; LENGTHS: each key's length as PostgreSQL counts it (code points). */
  private addPage(keys: string, lengths: string, hashes: string, onPlatform: string): void {
    const page = this.pages.length;
    this.pages.push(keys);
    // Without surrogate pairs, code points = UTF-16 code units (the usual case: one native check).
    const simple = !/[\uD800-\uDFFF]/.test(keys);
    let at = 0;
    let digit = 0;
    for (let j = 0; digit < lengths.length; j++) {
      let codePoints = 0;
      for (let c = lengths.charCodeAt(digit); digit < lengths.length && c !== 44; c = lengths.charCodeAt(++digit)) codePoints = codePoints * 10 + c - 48;
      digit++; // the comma
      const i = this.size++;
      if (i >= this.starts.length) return; // caught by load()
      let end = at + codePoints;
      if (!simple) {
        end = at;
        for (let c = 0; c < codePoints; c++) end += keys.codePointAt(end)! > 0xffff ? 2 : 1;
      }
      this.starts[i] = at;
      this.lengths[i] = end - at;
      const high = hexAt(hashes, j * 16);
      const low = hexAt(hashes, j * 16 + 8);
      if (high >= 0 && low >= 0) {
        this.high[i] = high;
        this.low[i] = low;
        this.flags[i] = HAS_HASH;
      }
      if (onPlatform.charCodeAt(j) === 49) this.flags[i]! |= ON_PLATFORM;
      if (page !== Math.floor(i / PAGE)) throw new Error('member pages out of step');
      let slot = keyHash(keys, at, end) & this.mask;
      while (this.table[slot] !== -1) slot = (slot + 1) & this.mask;
      this.table[slot] = i;
      at = end;
    }
  }

  /** The member with KEY, or -1. */
  find(key: string): number {
    if (this.size === 0) return -1;
    let slot = keyHash(key, 0, key.length) & this.mask;
    for (;;) {
      const i = this.table[slot]!;
      if (i === -1) return -1;
      if (this.lengths[i] === key.length && this.pages[Math.floor(i / PAGE)]!.startsWith(key, this.starts[i])) return i;
      slot = (slot + 1) & this.mask;
    }
  }

  keyOf(i: number): string {
    const start = this.starts[i]!;
    return this.pages[Math.floor(i / PAGE)]!.slice(start, start + this.lengths[i]!);
  }

  hashEquals(i: number, high: number, low: number): boolean {
    return (this.flags[i]! & HAS_HASH) !== 0 && this.high[i] === high && this.low[i] === low;
  }

  isOnPlatform(i: number): boolean {
    return (this.flags[i]! & ON_PLATFORM) !== 0;
  }

  isSeen(i: number): boolean {
    return (this.flags[i]! & SEEN) !== 0;
  }

  markSeen(i: number): void {
    this.flags[i]! |= SEEN;
  }

  isSkipped(i: number): boolean {
    return (this.flags[i]! & SKIPPED) !== 0;
  }

  markSkipped(i: number, line: number): void {
    this.flags[i]! |= SKIPPED | SEEN;
    this.lines[i] = line;
  }

  /** Takes back a skip (the row must be looked at after all); returns the line it was on. */
  unskip(i: number): number {
    this.flags[i]! &= ~SKIPPED;
    return this.lines[i]!;
  }

  /** The members no row of the file mentioned. */
  *unseen(): Generator<number> {
    for (let i = 0; i < this.size; i++) if ((this.flags[i]! & SEEN) === 0) yield i;
  }
}

/** FNV-1a over the UTF-16 code units of TEXT[start, end), with a final avalanche for the low bits the table uses. */
function keyHash(text: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/** The 8 hex digits of TEXT at AT as an unsigned number, or -1 when they are not 8 lower-case hex digits. */
function hexAt(text: string, at: number): number {
  let value = 0;
  for (let i = at; i < at + 8; i++) {
    const c = text.charCodeAt(i);
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}
