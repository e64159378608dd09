/**
 * A tenant's agreed file cadence (`expect.every` in its config) and the pure time arithmetic of the
 * late-file watch: when the next file is due after the last one, and how many windows have been missed.
 *
 * - An interval ("1 month", "2 weeks", "7 days", "12 hours"; also "monthly", "weekly", "daily") counts
 *   from the anchor (the last file, or when the tenant was first watched) on the calendar of the time
 *   zone: window k is due at anchor + k x interval (date-fns addMonths/addWeeks/addDays on the zone's wall
 *   clock), so Jan 31 + 1 month = Feb 28, + 2 months = Mar 31, and "7 days" keeps the local hour across
 *   a DST change. Hours are plain elapsed time.
 * - A cron expression ("0 9 * * 1" = Mondays 09:00) names the slots: the anchor covers the slot nearest
 *   to it (a file an hour early or a day late is still this Monday's), and window k is the k-th slot
 *   after that one.
 *
 * A window is missed once its due time plus graceHours has passed without a file.
 */
import { addDays } from 'date-fns/addDays';
import { addMonths } from 'date-fns/addMonths';
import { addWeeks } from 'date-fns/addWeeks';
import { z } from 'zod';
import { cronNext, cronPrevious, parseCron, type CronCadence } from './cron-next.js';
import { fromWall, toWall, WallDate } from './zoned.js';

export type Cadence =
  | { kind: 'interval'; text: string; amount: number; unit: 'hour' | 'day' | 'week' | 'month' }
  | { kind: 'cron'; text: string; cron: CronCadence };

const ALIASES: Record<string, string> = { hourly: '1 hour', daily: '1 day', weekly: '1 week', monthly: '1 month' };
const INTERVAL = /^(\d+)\s*(hour|day|week|month)s?$/i;

/**
 * The closest two fires of an `expect.every` cron may be: an hour (as the shortest interval, "1 hour"). A
 * cron firing every minute sent a "still late" reminder on every tick and made each watch check count
 * up to a thousand windows through minute-by-minute searches (~15 s of blocked event loop a tenant).
 */
const MIN_CRON_GAP_MINUTES = 60;

/** The fewest minutes between two fires of CRON on one day, or across midnight (its times of day). */
function closestFiresMinutes(cron: CronCadence): number {
  const times = cron.hours.flatMap((hour) => cron.minutes.map((minute) => hour * 60 + minute)).sort((a, b) => a - b);
  let closest = 24 * 60 - times[times.length - 1]! + times[0]!;
  for (let i = 1; i < times.length; i++) closest = Math.min(closest, times[i]! - times[i - 1]!);
  return closest;
}

/** Parses `expect.every`; throws an Error whose message says what is expected. */
export function parseCadence(text: string): Cadence {
  const trimmed = text.trim();
  const interval = INTERVAL.exec(ALIASES[trimmed.toLowerCase()] ?? trimmed);
  if (interval) {
    const amount = Number(interval[1]);
    if (amount < 1 || amount > 1000) throw new Error(`"${text}": the number must be between 1 and 1000`);
    return { kind: 'interval', text: trimmed, amount, unit: interval[2]!.toLowerCase() as 'hour' | 'day' | 'week' | 'month' };
  }
  if (/^\S+(\s+\S+){4}$/.test(trimmed)) {
    let cron: CronCadence;
    try {
      cron = parseCron(trimmed);
    } catch (error) {
      throw new Error(`"${text}" is not a valid cron expression: ${(error as Error).message}`);
    }
    const closest = closestFiresMinutes(cron);
    if (closest < MIN_CRON_GAP_MINUTES) {
      throw new Error(`"${text}" fires ${closest} minute(s) apart: a file cadence is an hour apart at least, e.g. "0 9 * * 1" (Mondays 09:00)`);
    }
    return { kind: 'cron', text: trimmed, cron };
  }
  throw new Error(
    `"${text}" is not a cadence: use an interval such as "1 month", "2 weeks", "7 days" (or monthly, weekly, daily), ` +
      'or a five-field cron expression such as "0 9 * * 1" (Mondays 09:00 in schedule.timezone)',
  );
}

/** `expect:` in a tenant's config (absent = the tenant is not watched). */
export const expectSchema = z
  .object({
    /** The agreed cadence: an interval ("1 month", "2 weeks", "7 days") or a cron expression. */
    every: z.string().superRefine((text, ctx) => {
      try {
        parseCadence(text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    }),
    /** Hours after the due time before the file counts as late. */
    graceHours: z.number().min(0).max(24 * 366).default(48),
    /** A "still late" reminder for every further missed window (false: only the first alert). */
    remind: z.boolean().default(true),
  })
  .strict();
export type ExpectConfig = z.infer<typeof expectSchema>;

function addInterval(anchor: Date, cadence: Extract<Cadence, { kind: 'interval' }>, times: number, timeZone: string): Date {
  const amount = cadence.amount * times;
  if (cadence.unit === 'hour') return new Date(anchor.getTime() + amount * 3_600_000);
  const wall = new WallDate(toWall(anchor, timeZone));
  const moved = cadence.unit === 'month' ? addMonths(wall, amount) : cadence.unit === 'week' ? addWeeks(wall, amount) : addDays(wall, amount);
  return fromWall(moved.getTime(), timeZone);
}

/** The slot a file at ANCHOR covers: the nearest occurrence, before or after (ties go to the later). */
function coveredSlot(cron: CronCadence, anchor: Date, timeZone: string): Date {
  const before = cronPrevious(cron, anchor, timeZone);
  const after = cronNext(cron, anchor, timeZone);
  return anchor.getTime() - before.getTime() < after.getTime() - anchor.getTime() ? before : after;
}

/**
 * Due times of windows 1, 2, ... after ANCHOR, lazily (a tenant silent for years must not cost more than
 * the windows the caller reads).
 */
export function* dueTimes(cadence: Cadence, anchor: Date, timeZone: string): Generator<Date> {
  if (cadence.kind === 'interval') {
    for (let k = 1; ; k++) yield addInterval(anchor, cadence, k, timeZone);
  }
  let slot = coveredSlot(cadence.cron, anchor, timeZone);
  for (;;) {
    slot = cronNext(cadence.cron, slot, timeZone);
    yield slot;
  }
}

export interface WatchState {
  /** What the windows count from: the last file, or when the tenant was first watched. */
  anchorAt: Date;
  /** Due time of the first window after the anchor (in the past when the tenant is late). */
  nextExpectedAt: Date;
  /** The first window's due time plus the grace has passed. */
  late: boolean;
  /** now - nextExpectedAt when late, else 0. */
  lateByMs: number;
  /** Windows whose due time plus grace has passed (1 = the first). */
  missedWindows: number;
  /** Due time of the last missed window (null when none). */
  lastMissedDueAt: Date | null;
}

/** Beyond this many missed windows the count stops (an hourly cadence silent for a year). */
export const MAX_COUNTED_WINDOWS = 1000;

export function watchState(expect: ExpectConfig, anchor: Date, now: Date, timeZone: string): WatchState {
  const cadence = parseCadence(expect.every);
  const graceMs = expect.graceHours * 3_600_000;
  let missed = 0;
  let first: Date | undefined;
  let lastMissed: Date | null = null;
  for (const due of dueTimes(cadence, anchor, timeZone)) {
    first ??= due;
    if (due.getTime() + graceMs > now.getTime() || missed >= MAX_COUNTED_WINDOWS) break;
    missed++;
    lastMissed = due;
  }
  const late = missed > 0;
  return {
    anchorAt: anchor,
    nextExpectedAt: first!,
    late,
    lateByMs: late ? now.getTime() - first!.getTime() : 0,
    missedWindows: missed,
    lastMissedDueAt: lastMissed,
  };
}

/**
 * Lateness of a file that arrived at ARRIVED after ANCHOR: late when it came after the first window's
 * due time plus the grace; by how much counts from the due time.
 */
export function arrivalLateness(expect: ExpectConfig, anchor: Date, arrived: Date, timeZone: string): { late: boolean; expectedAt: Date; lateByMs: number } {
  const state = watchState(expect, anchor, arrived, timeZone);
  return { late: state.late, expectedAt: state.nextExpectedAt, lateByMs: state.lateByMs };
}
