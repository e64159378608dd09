import { fingerprint } from './row-hash.js';

/** `add` found no earlier row with the value. */
export const FIRST = -1;
/** `add` found an earlier row, which is (or was) in the staging table. */
export const EARLIER_STAGED = -2;
const EMPTY = -3;
/** Linear probing stays quick up to here; the table is 12 bytes a slot. */
const MAX_LOAD = 0.7;

/**
 * Remembers 64-bit fingerprints of one field's values across a file (16 bytes a row), to notice a value
 * seen before on a row the engine left out of the database. A fingerprint match is only a suspicion: both
 * rows are then staged and the database decides exactly. Grows as needed.
 */
export class ValueWatch {
  private high: Uint32Array;
  private low: Uint32Array;
  /** Per slot: EMPTY, the known-member index of a left-out first row, or EARLIER_STAGED. */
  private refs: Int32Array;
  private used = 0;
  private readonly out = { high: 0, low: 0 };

  /** EXPECTED: about how many values will come (sizes the table once, for a file like the last one). */
  constructor(expected = 0) {
    let capacity = 1024;
    while (capacity * MAX_LOAD < expected * 1.1) capacity *= 2;
    this.high = new Uint32Array(capacity);
    this.low = new Uint32Array(capacity);
    this.refs = new Int32Array(capacity).fill(EMPTY);
  }

  /**
   * Records VALUE for a row (REF: the known-member index when the row is left out, else EARLIER_STAGED).
   * Returns FIRST, or what the earlier row was: its REF (and from now on the value counts as staged).
   */
  add(value: string, ref: number): number {
    fingerprint(value, this.out);
    const { high, low } = this.out;
    const mask = this.refs.length - 1;
    let slot = (high ^ Math.imul(low, 0x9e3779b1)) & mask;
    for (;;) {
      const earlier = this.refs[slot]!;
      if (earlier === EMPTY) break;
      if (this.high[slot] === high && this.low[slot] === low) {
        this.refs[slot] = EARLIER_STAGED;
        return earlier;
      }
      slot = (slot + 1) & mask;
    }
    this.high[slot] = high;
    this.low[slot] = low;
    this.refs[slot] = ref;
    if (++this.used > this.refs.length * MAX_LOAD) this.grow();
    return FIRST;
  }

  private grow(): void {
    const { high, low, refs } = this;
    const capacity = refs.length * 2;
    this.high = new Uint32Array(capacity);
    this.low = new Uint32Array(capacity);
    this.refs = new Int32Array(capacity).fill(EMPTY);
    const mask = capacity - 1;
    for (let i = 0; i < refs.length; i++) {
      if (refs[i] === EMPTY) continue;
      let slot = (high[i]! ^ Math.imul(low[i]!, 0x9e3779b1)) & mask;
      while (this.refs[slot] !== EMPTY) slot = (slot + 1) & mask;
      this.high[slot] = high[i]!;
      this.low[slot] = low[i]!;
      this.refs[slot] = refs[i]!;
    }
  }
}
