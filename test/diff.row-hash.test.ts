import { describe, expect, it } from 'vitest';
import { RowHasher, toHex } from '../src/diff/row-hash.js';

/** The stored form as Number#toString(16) writes it (the form before the table). */
const reference = (high: number, low: number) => high.toString(16).padStart(8, '0') + low.toString(16).padStart(8, '0');

describe('row hash', () => {
  it('keeps the stored form of hashes written by earlier versions (members.row_hash)', () => {
    // Values computed by the version before toHex's table (36e26d7): a different form would make every
    // stored member look changed to the next file.
    const hasher = new RowHasher(['email', 'first_name', 'status']);
    hasher.hash({ email: 'ann@example.com', first_name: 'Ann', status: 'active' });
    expect(hasher.hex()).toBe('0d6de22ed1841eb7');
    hasher.hash({ email: 'b@x.io', first_name: 'Zoë' });
    expect(hasher.hex()).toBe('f6232ff13cd8b6a2');
    const none = new RowHasher([]);
    none.hash({});
    expect(none.hex()).toBe('c7e69811fe7cdb54');
  });

  it('writes 16 lower-case hex digits, leading zeros included, as Number#toString(16) would', () => {
    const edges = [0, 1, 0xf, 0x10, 0xff, 0x100, 0x7fffffff, 0x80000000, 0xdeadbeef, 0xffffffff];
    for (const high of edges) for (const low of edges) expect(toHex(high, low)).toBe(reference(high, low));
    let state = 12345;
    for (let i = 0; i < 10_000; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      const low = Math.imul(state, 2654435761) >>> 0;
      expect(toHex(state, low)).toBe(reference(state, low));
    }
  });
});
