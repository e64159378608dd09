import { describe, expect, it } from 'vitest';
import { EARLIER_STAGED, FIRST, ValueWatch } from '../src/diff/value-watch.js';

describe('ValueWatch', () => {
  it('tells a first value from a repeat, with the earlier row, across growth', () => {
    const watch = new ValueWatch(); // starts small: 10,000 values make it grow several times
    for (let i = 0; i < 10_000; i++) expect(watch.add(`user${i}@example.com`, i % 2 === 0 ? i : EARLIER_STAGED)).toBe(FIRST);
    expect(watch.add('user42@example.com', 7)).toBe(42); // left out first: its member index
    expect(watch.add('user42@example.com', 8)).toBe(EARLIER_STAGED); // recalled by now: counts as staged
    expect(watch.add('user43@example.com', 9)).toBe(EARLIER_STAGED);
    expect(watch.add('user9999@example.com', 1)).toBe(EARLIER_STAGED);
    expect(watch.add('user9998@example.com', 1)).toBe(9998);
    expect(watch.add('someone.new@example.com', 3)).toBe(FIRST);
  });
});
