/**
 * Value checks of the field spec, written for speed: they run once per cell on files of a million rows,
 * so they use character tests where a regular expression is not needed.
 */
import { LOCALES } from './fields.js';

const SLASH = 47;
const ZERO = 48;
const NINE = 57;

function twoDigits(text: string, at: number): number {
  const a = text.charCodeAt(at);
  const b = text.charCodeAt(at + 1);
  if (a < ZERO || a > NINE || b < ZERO || b > NINE) return -1;
  return (a - ZERO) * 10 + (b - ZERO);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** True for a real calendar date written exactly MM/DD/YYYY (two-digit month and day, four-digit year). */
export function isUsDate(text: string): boolean {
  if (text.length !== 10 || text.charCodeAt(2) !== SLASH || text.charCodeAt(5) !== SLASH) return false;
  const month = twoDigits(text, 0);
  const day = twoDigits(text, 3);
  const high = twoDigits(text, 6);
  const low = twoDigits(text, 8);
  if (month < 1 || month > 12 || day < 1 || high < 0 || low < 0) return false;
  const year = high * 100 + low;
  return year >= 1 && day <= daysInMonth(year, month);
}

/** Why a value is not an MM/DD/YYYY date, in words a customer's ETL engineer can act on. */
export function dateProblem(text: string): string {
  const expected = 'expected a date as MM/DD/YYYY, e.g. 01/13/2023';
  if (/^\d{4}-\d{1,2}-\d{1,2}$/.test(text)) return `${expected} (this looks like YYYY-MM-DD)`;
  const parts = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(text);
  if (!parts) return expected;
  const [, month, day] = parts as unknown as [string, string, string, string];
  if (month.length === 1 || day.length === 1) return `${expected}: write month and day with two digits (01, not 1)`;
  if (Number(month) > 12 && Number(day) <= 12) return `${expected}: month ${month} does not exist (this looks like DD/MM/YYYY)`;
  return `${expected}: ${text} is not a calendar date`;
}

// Practical, not RFC 5322: one "@", no spaces or characters mail systems reject in addresses, no empty
// dot-separated parts, and a top-level domain of two or more letters (or an IDN "xn--" label).
const EMAIL =
  /^(?!\.)(?!.*\.\.)[^\s@",;:<>()[\]\\]+(?<!\.)@(?:[^\s@",;:<>()[\]\\._-][^\s@",;:<>()[\]\\.]*\.)+(?:[A-Za-z]{2,}|xn--[A-Za-z0-9-]+|[^\x00-\x7F]{2,})$/;

export function isEmail(text: string): boolean {
  return EMAIL.test(text);
}

export function emailProblem(text: string): string {
  const expected = 'not a valid email address (expected name@company.com)';
  const at = text.split('@').length - 1;
  if (/\s/.test(text)) return `${expected}: it contains a space`;
  if (at === 0) return `${expected}: there is no "@"`;
  if (at > 1) return `${expected}: there is more than one "@"`;
  if (text.startsWith('=')) return `${expected}: the cell holds a spreadsheet formula; export the plain value`;
  return expected;
}

export const LOCALE_SET: ReadonlySet<string> = new Set(LOCALES);

export function localeProblem(text: string): string {
  const listed = LOCALES.join(', ');
  const sameIgnoringCase = LOCALES.find((l) => l.toLowerCase() === text.toLowerCase().replace('_', '-'));
  const hint = sameIgnoringCase ? `: use "${sameIgnoringCase}"` : '';
  return `locale must be one of ${listed}, or blank for en-US${hint}`;
}

export function statusProblem(text: string): string {
  const lower = text.toLowerCase();
  if (lower === 'active' || lower === 'inactive') {
    return `status must be "active" or "inactive"; values are case-sensitive: use "${lower}"`;
  }
  return 'status must be "active" or "inactive" (case-sensitive)';
}

export function eligibilityProblem(): string {
  return 'program eligibility must be "eligible" or "ineligible"';
}

export function yesNoProblem(): string {
  return 'must be "yes" or "no" (any case)';
}

/** `near` is the allowed value that differs only in case, when there is one. */
export function segmentProblem(value: string, field: string, near?: string): string {
  const hint = near === undefined ? '' : ` (the hub has "${near}"; values are case-sensitive)`;
  return `new segment value "${value}" for ${field}: add it to the hub before upload${hint}`;
}
