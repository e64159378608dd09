import { stringHash, tableSlot } from '../diff/row-hash.js';

/** Entries per joined chunk of text (2^13). */
const SHIFT = 13;
const PER_CHUNK = 1 << SHIFT;
const MASK = PER_CHUNK - 1;

/**
 * A set of distinct strings with an id each (0, 1, 2 ... in order of first sight) and how often each was
 * added: the in-memory preview's table of a file's emails, employee ids or keys. Compact for a million
 * entries: the text is joined into one string per 8,192 entries (one-byte strings for ASCII text),
 * with a start offset, a count and an open-addressing slot per entry (~20 bytes an entry besides the text,
 * where a JS array of strings costs ~50). Exact: strings are compared in full.
 */
export class StringTable {
  private chunks: string[] = [];
  private pending: string[] = [];
  /** Entry i's start in its chunk; its end is the next entry's start, or the chunk's end. */
  private starts = new Int32Array(1024);
  /** Sightings, saturating at 255 (the checks only ask "more than one"; they count a repeated value's rows themselves). */
  private counts = new Uint8Array(1024);
  private table = new Int32Array(2048).fill(-1);
  size = 0;
  /** Some string was added more than once. */
  repeated = false;

  /** The id of TEXT, or -1. */
  find(text: string): number {
    let slot = tableSlot(stringHash(text), this.table.length);
    for (;;) {
      const id = this.table[slot]!;
      if (id === -1 || this.equals(id, text)) return id;
      slot = slot + 1 === this.table.length ? 0 : slot + 1;
    }
  }

  /** Adds one sighting of TEXT: its id (new, or the earlier one's). */
  add(text: string): number {
    let slot = tableSlot(stringHash(text), this.table.length);
    for (;;) {
      const id = this.table[slot]!;
      if (id === -1) break;
      if (this.equals(id, text)) {
        if (this.counts[id]! < 255) this.counts[id]!++;
        this.repeated = true;
        return id;
      }
      slot = slot + 1 === this.table.length ? 0 : slot + 1;
    }
    const id = this.size++;
    if (id >= this.counts.length) this.growEntries();
    this.counts[id] = 1;
    this.pending.push(text);
    if (this.pending.length === PER_CHUNK) this.seal();
    this.table[slot] = id;
    // At most 70% full (linear probing stays short; a 1M-entry table is 8 MB).
    if (this.size * 10 > this.table.length * 7) this.rehash();
    return id;
  }

  /** How often the string with ID was added (at most 255). */
  count(id: number): number {
    return this.counts[id]!;
  }

  get(id: number): string {
    const chunk = id >>> SHIFT;
    if (chunk === this.chunks.length) return this.pending[id & MASK]!;
    const text = this.chunks[chunk]!;
    return text.slice(this.starts[id]!, this.end(id, text));
  }

  private equals(id: number, text: string): boolean {
    const chunk = id >>> SHIFT;
    if (chunk === this.chunks.length) return this.pending[id & MASK] === text;
    const joined = this.chunks[chunk]!;
    const start = this.starts[id]!;
    return this.end(id, joined) - start === text.length && joined.startsWith(text, start);
  }

  private end(id: number, chunkText: string): number {
    return (id & MASK) === MASK ? chunkText.length : this.starts[id + 1]!;
  }

  /** The pending entries become one string. */
  private seal(): void {
    const first = this.chunks.length << SHIFT;
    let at = 0;
    for (let i = 0; i < this.pending.length; i++) {
      this.starts[first + i] = at;
      at += this.pending[i]!.length;
    }
    this.chunks.push(this.pending.join(''));
    this.pending = [];
  }

  private growEntries(): void {
    const starts = new Int32Array(this.starts.length * 2);
    starts.set(this.starts);
    this.starts = starts;
    const counts = new Uint8Array(this.counts.length * 2);
    counts.set(this.counts);
    this.counts = counts;
  }

  private rehash(): void {
    const table = new Int32Array(this.table.length * 2).fill(-1);
    for (let id = 0; id < this.size; id++) {
      const chunk = id >>> SHIFT;
      let hash: number;
      if (chunk === this.chunks.length) hash = stringHash(this.pending[id & MASK]!);
      else {
        const text = this.chunks[chunk]!;
        hash = stringHash(text, this.starts[id]!, this.end(id, text));
      }
      let slot = tableSlot(hash, table.length);
      while (table[slot] !== -1) slot = slot + 1 === table.length ? 0 : slot + 1;
      table[slot] = id;
    }
    this.table = table;
  }
}

/** Growable typed arrays (doubling) for the per-row columns of a file scan. */
export class IntColumn {
  data: Int32Array;
  constructor(capacity = 1024) {
    this.data = new Int32Array(capacity);
  }
  set(i: number, value: number): void {
    if (i >= this.data.length) {
      const grown = new Int32Array(Math.max(this.data.length * 2, i + 1));
      grown.set(this.data);
      this.data = grown;
    }
    this.data[i] = value;
  }
  /**
   * The first N values, as a view: a column set only for some rows (the valid ones) is shorter than the
   * file, and its tail reads 0. (A view past its end failed a previous file whose last rows were invalid
   * with "Invalid typed array length", or came out short.)
   */
  prefix(n: number): Int32Array {
    if (n > this.data.length) this.set(n - 1, 0);
    return this.data.subarray(0, n);
  }
}

/** Compares by Unicode code point, as PostgreSQL's C / C.UTF-8 collation orders text (UTF-8 bytes). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800-DFFF) stand for code points above U+FFFF: move them above U+E000-FFFF.
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x - y;
  }
  return a.length - b.length;
}
