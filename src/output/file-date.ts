import { calendarDate } from '../text/dates.js';

const US_DATE = /(?<![0-9])(\d{2})[.\-_](\d{2})[.\-_](\d{4})(?![0-9])/; // "... - 01.13.2023.csv"
const ISO_DATE = /(?<![0-9])(\d{4})-(\d{2})-(\d{2})(?![0-9])/; // "... 2023-01-13.csv"

/**
 * The date a membership file's name carries (local midnight), or null: MM.DD.YYYY as in the set-up
 * guide's example (also with - or _), or ISO YYYY-MM-DD. Impossible dates (02.30.2023) are no date.
 */
export function fileDateFromName(fileName: string): Date | null {
  const base = fileName.replace(/^.*[\\/]/, '');
  const iso = ISO_DATE.exec(base);
  if (iso) {
    const date = calendarDate(Number(iso[1]), Number(iso[2]), Number(iso[3]));
    if (date) return date;
  }
  const us = US_DATE.exec(base);
  if (us) {
    const date = calendarDate(Number(us[3]), Number(us[1]), Number(us[2]));
    if (date) return date;
  }
  return null;
}
