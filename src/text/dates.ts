/**
 * Calendar days of file names, by hand: date-fns's parse and format loaded ~230 modules, a tenth of a
 * second of every CLI start (a preview's whole process is mostly start-up; docs/bench.md).
 */

/** Local midnight of YEAR-MONTH-DAY (month 1-12), or null when there is no such day (02.30.2023, month 13). */
export function calendarDate(year: number, month: number, day: number): Date | null {
  if (!Number.isInteger(year) || !Number.isInteger(month) || !Number.isInteger(day)) return null;
  const date = new Date(2000, 0, 1);
  date.setFullYear(year, month - 1, day); // setFullYear, not the constructor: year 12 is not 1912
  date.setHours(0, 0, 0, 0);
  return date.getFullYear() === year && date.getMonth() === month - 1 && date.getDate() === day ? date : null;
}

/** yyyy-MM-dd of DATE's local calendar day. */
export function isoDay(date: Date): string {
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  return `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1, 2)}-${pad(date.getDate(), 2)}`;
}
