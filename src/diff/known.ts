import type { Queryable } from '../store/db.js';
import { stringHash, tableSlot } from './row-hash.js';

/**
 * Members of the tenant loaded per query, about (a few hundred KB of text): bigger chunks leave tens of MB
 * of transient strings and buffers that the process keeps (1M members: peak RSS 163-168 MB with ~100k a
 * query, 154-155 MB with ~12k, no slower).
 */
const CHUNK_MEMBERS = 12_000;

const SEEN = 1;
const SKIPPED = 2;
const HAS_HASH = 4;
const ON_PLATFORM = 8;
/** The row left out was invitable (status and eligibility allow an invite). */
const INVITABLE = 16;

/**
 * The tenant's stored members, held compactly in memory (keys in one string per loaded chunk, hashes
 * and flags in typed arrays: about 35 bytes a member), so that the engine can tell while reading a file
 * which rows are unchanged and leave them out of the database work. Exact: keys are compared in full.
 */
export class KnownMembers {
  /** The chunks' keys while loading; then one string of all keys. */
  private chunks: string[] = [];
  private keys = '';
  private loaded = 0;
  /** Member i's key: keys[starts[i], starts[i + 1]) (UTF-16 code units). */
  private starts: Int32Array;
  private high: Uint32Array;
  private low: Uint32Array;
  private flags: Uint8Array;
  /** Line of the file row a member was skipped on. */
  private lines: Int32Array;
  private table = new Int32Array(0);
  size = 0;
  /**
   * The member after the last one found, tried before the table: a customer's export lists its members in
   * the same order each time, and the store holds them in the order of the file that added them, so a key
   * is most often the next one. Its compare reads memory next to the last; the table's slot is a random
   * access (1M keys in file order: 0.37-0.45 s through the table, 0.03-0.05 s with this; in random order
   * 0.75 -> 0.8-1.0 s). Only where keys are unique (member_key): with repeated keys (a pending re-key by
   * email or employee_id) the table's answer, the first of them, stays the only one.
   */
  private next = 0;
  private readonly guessNext: boolean;

  /** CAPACITY: the members stored (counted first: doubling as they arrive could hold up to twice what is needed). */
  private constructor(capacity: number, uniqueKeys: boolean) {
    this.guessNext = uniqueKeys;
    const slots = capacity + 1;
    this.starts = new Int32Array(slots);
    this.high = new Uint32Array(slots);
    this.low = new Uint32Array(slots);
    this.flags = new Uint8Array(slots);
    this.lines = new Int32Array(slots);
  }

  /**
   * KEY_COLUMN: what identifies a member in the file: its stored key, or (the tenant's key setting just
   * changed, before the store is re-keyed) its email or employee_id column.
   */
  static async load(client: Queryable, tenantId: string, keyColumn: 'member_key' | 'email' | 'employee_id' = 'member_key'): Promise<KnownMembers> {
    const count = await client.query<{ n: number }>('select count(*)::int as n from members where tenant_id = $1', [tenantId]);
    const members = count.rows[0]?.n ?? 0;
    const known = new KnownMembers(members, keyColumn === 'member_key');
    // In ranges of the table's heap (tid range scans; for a tenant with few of the table's rows the
    // planner takes the primary key instead), one aggregated row each: a million members cost about eighty
    // rows to parse rather than a million, and no sort; a small tenant is one query, however big the table.
    // The tenant is locked (or the preview's snapshot fixed): its members do not change meanwhile.
    const size = await client.query<{ blocks: number }>(`select (pg_relation_size('members') / current_setting('block_size')::int)::int as blocks`);
    const blocks = size.rows[0]?.blocks ?? 0;
    const chunkBlocks = Math.ceil((blocks + 1) / Math.max(1, Math.ceil(members / CHUNK_MEMBERS)));
    for (let from = 0; from <= blocks; from += chunkBlocks) {
      const last = from + chunkBlocks > blocks;
      // Hashes not of this version's form (16 hex digits) become dots: never equal.
      const chunk: { keys: string | null; lengths: string | null; hashes: string | null; flags: string | null } | undefined = (
        await client.query(
          `select string_agg(k, '') as keys, string_agg(length(k)::text, ',') as lengths,
                  string_agg(case when length(row_hash) = 16 then row_hash else '................' end, '') as hashes,
                  string_agg(case when on_platform then '1' else '0' end, '') as flags
           from (select coalesce(${keyColumn}, '') as k, row_hash, on_platform from members
                 where tenant_id = $1 and ctid >= $2::tid${last ? '' : ' and ctid < $3::tid'}) c`,
          [tenantId, `(${from},0)`, ...(last ? [] : [`(${from + chunkBlocks},0)`])],
        )
      ).rows[0];
      if (chunk?.lengths) known.addChunk(chunk.keys ?? '', chunk.lengths, chunk.hashes ?? '', chunk.flags ?? '');
    }
    known.index();
    return known;
  }

  /** KEYS: the chunk's keys back to back; LENGTHS: each key's length as PostgreSQL counts it (code points). */
  private addChunk(keys: string, lengths: string, hashes: string, onPlatform: string): void {
    this.chunks.push(keys);
    const offset = this.loaded;
    this.loaded += keys.length;
    // Without surrogate pairs, code points = UTF-16 code units (the usual case: one native check).
    const simple = !/[\uD800-\uDFFF]/.test(keys);
    let at = 0;
    let digit = 0;
    for (let j = 0; digit < lengths.length; j++) {
      let codePoints = 0;
      for (let c = lengths.charCodeAt(digit); digit < lengths.length && c !== 44; c = lengths.charCodeAt(++digit)) codePoints = codePoints * 10 + c - 48;
      digit++; // the comma
      let end = at + codePoints;
      if (!simple) {
        end = at;
        for (let c = 0; c < codePoints; c++) end += keys.codePointAt(end)! > 0xffff ? 2 : 1;
      }
      if (this.size + 1 >= this.starts.length) this.grow();
      const i = this.size++;
      this.starts[i] = offset + at;
      const high = hexAt(hashes, j * 16);
      const low = hexAt(hashes, j * 16 + 8);
      if (high >= 0 && low >= 0) {
        this.high[i] = high;
        this.low[i] = low;
        this.flags[i] = HAS_HASH;
      }
      if (onPlatform.charCodeAt(j) === 49) this.flags[i]! |= ON_PLATFORM;
      at = end;
    }
  }

  private grow(): void {
    const capacity = Math.max(1024, this.starts.length * 2);
    const grown = <T extends Uint16Array | Int32Array | Uint32Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.starts = grown(this.starts, (n) => new Int32Array(n));
    this.high = grown(this.high, (n) => new Uint32Array(n));
    this.low = grown(this.low, (n) => new Uint32Array(n));
    this.flags = grown(this.flags, (n) => new Uint8Array(n));
    this.lines = grown(this.lines, (n) => new Int32Array(n));
  }

  /** One string of all keys, and the open-addressing table from key to member (load at most 0.7). */
  private index(): void {
    this.keys = this.chunks.join('');
    this.chunks = [];
    this.starts[this.size] = this.keys.length;
    this.table = new Int32Array(Math.ceil(this.size / 0.7) + 1).fill(-1);
    for (let i = 0; i < this.size; i++) {
      let slot = tableSlot(stringHash(this.keys, this.starts[i]!, this.starts[i + 1]!), this.table.length);
      while (this.table[slot] !== -1) slot = slot + 1 === this.table.length ? 0 : slot + 1;
      this.table[slot] = i;
    }
  }

  /** The member with KEY, or -1. */
  find(key: string): number {
    if (this.size === 0) return -1;
    if (this.guessNext && this.next < this.size && this.keyIs(this.next, key)) return this.next++;
    let slot = tableSlot(stringHash(key), this.table.length);
    for (;;) {
      const i = this.table[slot]!;
      if (i === -1) return -1;
      if (this.keyIs(i, key)) {
        this.next = i + 1;
        return i;
      }
      slot = slot + 1 === this.table.length ? 0 : slot + 1;
    }
  }

  private keyIs(i: number, key: string): boolean {
    const start = this.starts[i]!;
    return this.starts[i + 1]! - start === key.length && this.keys.startsWith(key, start);
  }

  keyOf(i: number): string {
    return this.keys.slice(this.starts[i]!, this.starts[i + 1]!);
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

  markSkipped(i: number, line: number, invitable: boolean): void {
    this.flags[i]! |= SKIPPED | SEEN | (invitable ? INVITABLE : 0);
    this.lines[i] = line;
  }

  /** Takes back a skip (the row must be looked at after all): the line it was on, and whether it was invitable. */
  unskip(i: number): { line: number; invitable: boolean } {
    this.flags[i]! &= ~SKIPPED;
    return { line: this.lines[i]!, invitable: (this.flags[i]! & INVITABLE) !== 0 };
  }

  /** Lets go of the memory (the file has been read and the absent members written). */
  release(): void {
    this.keys = '';
    this.starts = new Int32Array(0);
    this.high = new Uint32Array(0);
    this.low = new Uint32Array(0);
    this.flags = new Uint8Array(0);
    this.lines = new Int32Array(0);
    this.table = new Int32Array(0);
    this.size = 0;
  }

  /** The members no row of the file mentioned. */
  *unseen(): Generator<number> {
    for (let i = 0; i < this.size; i++) if ((this.flags[i]! & SEEN) === 0) yield i;
  }
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
