import { stringHash, tableSlot } from './row-hash.js';

/** `add` found no earlier row with the value. */
export const FIRST = -1;
/** `add` found an earlier row, which is (or was) in the staging table. */
export const EARLIER_STAGED = -2;
const EMPTY = -3;
/** Linear probing stays quick up to here; the table is 8 bytes a slot. */
const MAX_LOAD = 0.7;

/**
 * Remembers 32-bit fingerprints of one field's values across a file (about 11 bytes a row), to notice a
 * value seen before on a row the engine left out of the database. A fingerprint match is only a suspicion:
 * both rows are then staged and the database decides exactly (a million distinct values give a few hundred
 * needless suspicions, each costing one more staged row). Grows as needed.
 */
export class ValueWatch {
  private prints: Uint32Array;
  /** Per slot: EMPTY, the known-member index of a left-out first row, or EARLIER_STAGED. */
  private refs: Int32Array;
  private used = 0;

  /** EXPECTED: about how many values will come (sizes the table once, for a file like the last one). */
  constructor(expected = 0) {
    const capacity = Math.max(1024, Math.ceil((expected * 1.05) / MAX_LOAD));
    this.prints = new Uint32Array(capacity);
    this.refs = new Int32Array(capacity).fill(EMPTY);
  }

  /**
   * Records VALUE for a row (REF: the known-member index when the row is left out, else EARLIER_STAGED).
   * Returns FIRST, or what the earlier row was: its REF (and from now on the value counts as staged).
   */
  add(value: string, ref: number): number {
    const print = stringHash(value);
    const { prints, refs } = this;
    let slot = tableSlot(print, refs.length);
    for (;;) {
      const earlier = refs[slot]!;
      if (earlier === EMPTY) break;
      if (prints[slot] === print) {
        refs[slot] = EARLIER_STAGED;
        return earlier;
      }
      slot = slot + 1 === refs.length ? 0 : slot + 1;
    }
    prints[slot] = print;
    refs[slot] = ref;
    if (++this.used > refs.length * MAX_LOAD) this.grow();
    return FIRST;
  }

  private grow(): void {
    const { prints, refs } = this;
    this.prints = new Uint32Array(refs.length * 2);
    this.refs = new Int32Array(refs.length * 2).fill(EMPTY);
    for (let i = 0; i < refs.length; i++) {
      if (refs[i] === EMPTY) continue;
      let slot = tableSlot(prints[i]!, this.refs.length);
      while (this.refs[slot] !== EMPTY) slot = slot + 1 === this.refs.length ? 0 : slot + 1;
      this.prints[slot] = prints[i]!;
      this.refs[slot] = refs[i]!;
    }
  }
}
