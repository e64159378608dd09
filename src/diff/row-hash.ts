/**
 * The row hash: a 64-bit fingerprint of a row's mapped columns and values, stored with each member so
 * that an unchanged row is recognised without comparing its fields. The same content hashes the same
 * whatever the column order of the file; another set of columns hashes differently (the engine then
 * compares field by field, and refreshes the stored hash).
 *
 * Computed in Node, not by the database: the engine leaves rows whose hash matches the stored one
 * (src/diff/known.ts) out of the database work. Two 32-bit multiply-xorshift lanes over the UTF-16 code
 * units, each value preceded by its length (so value boundaries are unambiguous), finished by murmur3's
 * avalanche: about 0.6 s per million rows here, where a node:crypto digest costs over 4 µs a call.
 * A collision would make a changed row look unchanged (a missed update, never a deletion); at 2^-64 per
 * changed row it is not a practical concern.
 */

/** A 64-bit hash as two unsigned 32-bit halves. */
export interface Hash64 {
  high: number;
  low: number;
}

// The two lanes, module-level so that hashing allocates nothing per row.
let lane1 = 0;
let lane2 = 0;

/** Mixes S[start, end) into the lanes, preceded by its length. */
function absorb(s: string, start = 0, end = s.length): void {
  let h1 = lane1;
  let h2 = lane2;
  const n = end - start;
  h1 = Math.imul(h1 ^ n, 0x9e3779b1);
  h1 ^= h1 >>> 15;
  h2 = Math.imul(h2 ^ n, 0x85ebca77);
  h2 ^= h2 >>> 13;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x9e3779b1);
    h1 ^= h1 >>> 15;
    h2 = Math.imul(h2 ^ c, 0x85ebca77);
    h2 ^= h2 >>> 13;
  }
  lane1 = h1;
  lane2 = h2;
}

function finish(out: Hash64): void {
  let h1 = lane1;
  let h2 = lane2;
  h1 ^= h2 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  h1 = Math.imul(h1, 0xc2b2ae35);
  h1 ^= h1 >>> 16;
  h2 ^= h1;
  h2 = Math.imul(h2, 0x85ebca6b);
  h2 ^= h2 >>> 13;
  h2 = Math.imul(h2, 0xc2b2ae35);
  h2 ^= h2 >>> 16;
  out.high = h1 >>> 0;
  out.low = h2 >>> 0;
}

export class RowHasher implements Hash64 {
  /** Column names in name order: the hash input order. */
  private readonly order: string[];
  private readonly seed1: number;
  private readonly seed2: number;
  /** The last hash computed by `hash`. */
  high = 0;
  low = 0;

  constructor(columns: readonly string[]) {
    this.order = [...columns].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    lane1 = 0x9e3779b9;
    lane2 = 0x41c6ce57;
    for (const name of this.order) absorb(name);
    this.seed1 = lane1;
    this.seed2 = lane2;
  }

  /** Hashes VALUES (canonical field -> value; a missing one counts as ''); the result is in high/low. */
  hash(values: Readonly<Record<string, string>>): void {
    lane1 = this.seed1;
    lane2 = this.seed2;
    const order = this.order;
    for (let v = 0; v < order.length; v++) absorb(values[order[v]!] ?? '');
    finish(this);
  }

  /** The last hash as 16 hex digits (its stored form). */
  hex(): string {
    return toHex(this.high, this.low);
  }
}

const scratch: Hash64 = { high: 0, low: 0 };

/** 32-bit hash of TEXT[start, end) for the engine's in-memory tables (keys, watched values). */
export function stringHash(text: string, start = 0, end = text.length): number {
  lane1 = 0x2545f491;
  lane2 = 0x6c8e9cf5;
  absorb(text, start, end);
  finish(scratch);
  return scratch.high;
}

/** HASH (unsigned 32-bit) scaled onto a table of SIZE slots (multiply-shift: any size, no modulo). */
export function tableSlot(hash: number, size: number): number {
  return Math.floor((hash / 4294967296) * size);
}

/** Two hex digits of each byte value. */
const HEX_BYTES = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

function hex32(n: number): string {
  return HEX_BYTES[n >>> 24]! + HEX_BYTES[(n >>> 16) & 0xff]! + HEX_BYTES[(n >>> 8) & 0xff]! + HEX_BYTES[n & 0xff]!;
}

/**
 * 16 lower-case hex digits of a 64-bit hash. By byte from a table: Number#toString(16) and padStart took
 * 0.6 s per million rows here, a sixth of the Node time that stages a first file's rows; the table, ~0.05 s.
 */
export function toHex(high: number, low: number): string {
  return hex32(high) + hex32(low);
}
