/**
 * Wall-clock time in an IANA time zone, for the late-file watch (cadences are calendar rules: "1 month"
 * after Jan 31 is Feb 28, "7 days" across a DST change is the same local hour a week later).
 *
 * A "wall" value is the zone's local date and time written as if it were UTC (a number of ms, or a
 * WallDate), so date-fns's calendar functions (addMonths, addDays, ...) work on it without depending on
 * the process's own time zone.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let found = formatters.get(timeZone);
  if (!found) {
    found = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, found);
  }
  return found;
}

/** True when NAME is a time zone this Node knows (e.g. "UTC", "America/New_York"). */
export function isTimeZone(name: string): boolean {
  try {
    formatter(name);
    return true;
  } catch {
    return false;
  }
}

/** The zone's wall clock at INSTANT, as ms (the local date and time read as UTC). */
export function toWall(instant: Date, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(instant)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!, instant.getUTCMilliseconds());
}

/**
 * The instant at which the zone's wall clock shows WALL. A wall time skipped by a DST change (02:30 on
 * the night clocks go forward) maps to the instant one offset-change later (03:30); a wall time that
 * happens twice (01:30 on the night clocks go back) maps to the first.
 */
export function fromWall(wall: number, timeZone: string): Date {
  // The zone's offsets a day and a half either side: the one before and the one after any change near
  // WALL, whatever the zone's offset (up to 14 h; a guess from the offset at WALL itself found only the
  // later of a repeated time east of UTC). No zone changes its offset twice within three days.
  const offsetAt = (instant: number) => toWall(new Date(instant), timeZone) - instant;
  const candidates = [...new Set([offsetAt(wall - SEARCH), offsetAt(wall + SEARCH)])].map((offset) => wall - offset);
  const shows = candidates.filter((instant) => toWall(new Date(instant), timeZone) === wall);
  // Twice (overlap): the earlier. Never (gap): the later, i.e. the wall time moved on by the change.
  return new Date(shows.length > 0 ? Math.min(...shows) : Math.max(...candidates));
}

const SEARCH = 36 * 3600_000;

/**
 * A Date whose local getters and setters are its UTC ones: date-fns builds its results with the
 * argument's constructor, so addMonths(new WallDate(wall), 1) does calendar arithmetic on the wall clock.
 */
export class WallDate extends Date {
  override getFullYear(): number {
    return this.getUTCFullYear();
  }
  override getMonth(): number {
    return this.getUTCMonth();
  }
  override getDate(): number {
    return this.getUTCDate();
  }
  override getDay(): number {
    return this.getUTCDay();
  }
  override getHours(): number {
    return this.getUTCHours();
  }
  override getMinutes(): number {
    return this.getUTCMinutes();
  }
  override getSeconds(): number {
    return this.getUTCSeconds();
  }
  override getMilliseconds(): number {
    return this.getUTCMilliseconds();
  }
  override getTimezoneOffset(): number {
    return 0;
  }
  override setFullYear(...args: Parameters<Date['setUTCFullYear']>): number {
    return this.setUTCFullYear(...args);
  }
  override setMonth(...args: Parameters<Date['setUTCMonth']>): number {
    return this.setUTCMonth(...args);
  }
  override setDate(...args: Parameters<Date['setUTCDate']>): number {
    return this.setUTCDate(...args);
  }
  override setHours(...args: Parameters<Date['setUTCHours']>): number {
    return this.setUTCHours(...args);
  }
  override setMinutes(...args: Parameters<Date['setUTCMinutes']>): number {
    return this.setUTCMinutes(...args);
  }
  override setSeconds(...args: Parameters<Date['setUTCSeconds']>): number {
    return this.setUTCSeconds(...args);
  }
  override setMilliseconds(...args: Parameters<Date['setUTCMilliseconds']>): number {
    return this.setUTCMilliseconds(...args);
  }
}
