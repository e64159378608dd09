import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import { csvLine } from '../src/output/csv-line.js';

describe('csvLine writes what csv-stringify writes with escape_formulas', () => {
  const cells = [
    '', 'plain', 'Zoë Ångström', '李', 'a,b', 'say "hi"', 'two\nlines', 'cr\rhere', 'crlf\r\nend', '"', ',',
    '=1+2', '+33 6', '-5', '@SUM(A1)', '\tTab', '\rCR', '＝1', '＋1', '－1', '＠x', '=HYPERLINK("http://x", "y")', "'quoted",
    ' leading space', 'trailing ', '\u0000nul',
  ];
  it.each(cells.map((cell) => [cell]))('%j', (cell) => {
    expect(csvLine([cell, 'x'])).toBe(stringify([[cell, 'x']], { escape_formulas: true }));
  });
  it('a whole row', () => {
    expect(csvLine(cells)).toBe(stringify([cells], { escape_formulas: true }));
  });
});
