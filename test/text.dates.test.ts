import { describe, expect, it } from 'vitest';
import { fileDateFromName } from '../src/output/file-date.js';
import { calendarDate, isoDay } from '../src/text/dates.js';

describe('calendar days of file names (src/text/dates.ts)', () => {
  it('a real day is local midnight of that day; no such day is null', () => {
    const day = calendarDate(2024, 2, 29)!;
    expect([day.getFullYear(), day.getMonth(), day.getDate(), day.getHours(), day.getMinutes()]).toEqual([2024, 1, 29, 0, 0]);
    expect(calendarDate(2023, 2, 29)).toBeNull();
    expect(calendarDate(2023, 2, 30)).toBeNull();
    expect(calendarDate(2023, 13, 1)).toBeNull();
    expect(calendarDate(2023, 0, 1)).toBeNull();
    expect(calendarDate(2023, 4, 31)).toBeNull();
    expect(calendarDate(2023, 1, 0)).toBeNull();
    expect(calendarDate(2023.5, 1, 1)).toBeNull();
  });

  it('years below 100 stay themselves (not 19xx), and isoDay pads every part', () => {
    expect(isoDay(calendarDate(12, 3, 4)!)).toBe('0012-03-04');
    expect(isoDay(calendarDate(2023, 1, 13)!)).toBe('2023-01-13');
    expect(isoDay(new Date(1999, 11, 31, 23, 59))).toBe('1999-12-31');
  });

  it('file names: MM.DD.YYYY (also - or _) and ISO, impossible dates are no date', () => {
    const cases: [string, string | null][] = [
      ['All Active Personnel - 01.13.2023.csv', '2023-01-13'],
      ['acme_02-28-2024.csv', '2024-02-28'],
      ['acme 2023-01-13.csv', '2023-01-13'],
      ['acme - 13.01.2023.csv', null],
      ['acme - 02.30.2023.csv', null],
      ['acme.csv', null],
      ['acme - 001.13.2023.csv', null],
    ];
    for (const [name, day] of cases) {
      const date = fileDateFromName(name);
      expect(date && isoDay(date), name).toBe(day);
    }
  });
});
