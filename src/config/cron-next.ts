/**
 * A five-field cron expression (minute hour day-of-month month day-of-week) as a late-file cadence, and
 * its occurrences before and after an instant in a time zone. node-cron only runs a task at the next
 * occurrence; the watch needs "the slot nearest to a past file" and "the k-th slot after it", so this is
 * a small search of its own: day by day through the zone's calendar, then the matching hours and minutes.
 *
 * Day-of-month and day-of-week follow Vixie cron: when both are restricted, a day matching either counts.
 */
import { fromWall, toWall } from './zoned.js';

export interface CronCadence {
  minutes: number[];
  hours: number[];
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  /** Day-of-month / day-of-week given as "*" (unrestricted). */
  anyDay: boolean;
  anyWeekday: boolean;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  namesFrom?: number;
}

const FIELDS: FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, namesFrom: 1 },
  { name: 'day of week', min: 0, max: 7, names: WEEKDAYS, namesFrom: 0 },
];

/** How far the search looks (a valid expression that never fires, e.g. Feb 30, is refused by parseCron). */
const SEARCH_DAYS = 366 * 8;

function value(text: string, spec: FieldSpec): number {
  const named = spec.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return named + (spec.namesFrom ?? 0);
  if (!/^\d+$/.test(text)) throw new Error(`${spec.name}: "${text}" is not a number${spec.names ? ` or a name (${spec.names.slice(0, 3).join(', ')}, ...)` : ''}`);
  const n = Number(text);
  if (n < spec.min || n > spec.max) throw new Error(`${spec.name}: ${n} is outside ${spec.min}-${spec.max}`);
  return n;
}

function field(text: string, spec: FieldSpec): number[] {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [range, stepText, extra] = part.split('/');
    if (extra !== undefined || range === undefined || range === '') throw new Error(`${spec.name}: "${part}" is not a value, range or step`);
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1 || (stepText !== undefined && !/^\d+$/.test(stepText))) throw new Error(`${spec.name}: step "${stepText}" must be a whole number >= 1`);
    let from: number;
    let to: number;
    if (range === '*') {
      from = spec.min;
      to = spec.max;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-');
      from = value(a ?? '', spec);
      to = value(b ?? '', spec);
      if (from > to) throw new Error(`${spec.name}: range "${range}" runs backwards`);
    } else {
      from = value(range, spec);
      to = stepText === undefined ? from : spec.max;
    }
    for (let n = from; n <= to; n += step) out.add(n);
  }
  return [...out].sort((a, b) => a - b);
}

/** Parses a five-field cron expression; throws an Error saying which field is wrong and why. */
export function parseCron(expression: string): CronCadence {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) {
    throw new Error(`a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has ${parts.length}`);
  }
  const [minutes, hours, days, months, weekdays] = parts.map((part, i) => field(part, FIELDS[i]!)) as [number[], number[], number[], number[], number[]];
  const cron: CronCadence = {
    minutes,
    hours,
    days: new Set(days),
    months: new Set(months),
    // 7 is Sunday too.
    weekdays: new Set(weekdays.map((d) => d % 7)),
    anyDay: parts[2] === '*',
    anyWeekday: parts[4] === '*',
  };
  // An expression that never fires (e.g. "0 9 30 2 *") would make the tenant late forever.
  if (!searchDays(cron, Date.UTC(2024, 0, 1), 1, () => true)) throw new Error('it never fires (no day matches)');
  return cron;
}

function dayMatches(cron: CronCadence, wallDay: Date): boolean {
  if (!cron.months.has(wallDay.getUTCMonth() + 1)) return false;
  const dom = cron.days.has(wallDay.getUTCDate());
  const dow = cron.weekdays.has(wallDay.getUTCDay());
  if (cron.anyDay && cron.anyWeekday) return true;
  if (cron.anyDay) return dow;
  if (cron.anyWeekday) return dom;
  return dom || dow;
}

/** Walks matching wall days from START (a wall ms) in DIRECTION; ACCEPT gets each day's wall midnight. */
function searchDays(cron: CronCadence, start: number, direction: 1 | -1, accept: (midnight: number) => boolean): boolean {
  const first = new Date(start);
  for (let i = 0; i < SEARCH_DAYS; i++) {
    const day = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), first.getUTCDate() + i * direction));
    if (dayMatches(cron, day) && accept(day.getTime())) return true;
  }
  return false;
}

/** The first occurrence strictly after AFTER, in TIME ZONE. */
export function cronNext(cron: CronCadence, after: Date, timeZone: string): Date {
  let found: Date | undefined;
  searchDays(cron, toWall(after, timeZone), 1, (midnight) => {
    for (const hour of cron.hours) {
      for (const minute of cron.minutes) {
        const at = fromWall(midnight + (hour * 60 + minute) * 60_000, timeZone);
        if (at.getTime() > after.getTime()) {
          found = at;
          return true;
        }
      }
    }
    return false;
  });
  if (!found) throw new Error('cron expression has no occurrence in the search range');
  return found;
}

/** The last occurrence at or before AT, in TIME ZONE. */
export function cronPrevious(cron: CronCadence, at: Date, timeZone: string): Date {
  let found: Date | undefined;
  searchDays(cron, toWall(at, timeZone), -1, (midnight) => {
    for (const hour of [...cron.hours].reverse()) {
      for (const minute of [...cron.minutes].reverse()) {
        const when = fromWall(midnight + (hour * 60 + minute) * 60_000, timeZone);
        if (when.getTime() <= at.getTime()) {
          found = when;
          return true;
        }
      }
    }
    return false;
  });
  if (!found) throw new Error('cron expression has no occurrence in the search range');
  return found;
}
