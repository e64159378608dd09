import { describe, expect, it } from 'vitest';
import { dueTimes, expectSchema, parseCadence, watchState } from '../src/config/cadence.js';
import { cronNext, cronPrevious, parseCron } from '../src/config/cron-next.js';
import { fromWall, toWall } from '../src/config/zoned.js';

const iso = (d: Date) => d.toISOString();
const first = (n: number, it: Iterator<Date>) => Array.from({ length: n }, () => iso(it.next().value as Date));
const expectOf = (every: string, graceHours = 48, remind = true) => expectSchema.parse({ every, graceHours, remind });

describe('cadence parsing', () => {
  it('reads intervals, aliases and cron expressions', () => {
    expect(parseCadence('1 month')).toMatchObject({ kind: 'interval', amount: 1, unit: 'month' });
    expect(parseCadence('2 Weeks')).toMatchObject({ kind: 'interval', amount: 2, unit: 'week' });
    expect(parseCadence('7 days')).toMatchObject({ kind: 'interval', amount: 7, unit: 'day' });
    expect(parseCadence('weekly')).toMatchObject({ kind: 'interval', amount: 1, unit: 'week' });
    expect(parseCadence('0 9 * * mon')).toMatchObject({ kind: 'cron' });
  });

  it('refuses what is not a cadence, saying what is expected', () => {
    expect(() => parseCadence('fortnightly')).toThrow(/not a cadence: use an interval such as "1 month"/);
    expect(() => parseCadence('0 months')).toThrow(/between 1 and 1000/);
    expect(() => parseCadence('0 25 * * *')).toThrow(/not a valid cron expression: hour: 25 is outside 0-23/);
    expect(() => parseCadence('0 9 30 2 *')).toThrow(/never fires/);
    expect(() => parseCadence('0 9 * * funday')).toThrow(/day of week: "funday" is not a number/);
    // more often than hourly: a reminder on every tick, and each check counted windows minute by minute
    expect(() => parseCadence('* * * * *')).toThrow('"* * * * *" fires 1 minute(s) apart: a file cadence is an hour apart at least');
    expect(() => parseCadence('0,30 9 * * 1')).toThrow(/fires 30 minute\(s\) apart/);
    expect(parseCadence('0 * * * *')).toMatchObject({ kind: 'cron' }); // hourly is the shortest
    expect(parseCadence('30 23 * * *')).toMatchObject({ kind: 'cron' });
  });
});

describe('due times', () => {
  it('a monthly cadence keeps to month ends: Jan 31 -> Feb 28 -> Mar 31 -> Apr 30', () => {
    const anchor = new Date('2026-01-31T10:00:00Z');
    expect(first(4, dueTimes(parseCadence('1 month'), anchor, 'UTC'))).toEqual([
      '2026-02-28T10:00:00.000Z',
      '2026-03-31T10:00:00.000Z',
      '2026-04-30T10:00:00.000Z',
      '2026-05-31T10:00:00.000Z',
    ]);
  });

  it('"7 days" across the spring-forward change keeps the local hour (167 h, not 168)', () => {
    // 2026-03-08 is the US change; Mar 2 09:00 EST = 14:00Z, Mar 9 09:00 EDT = 13:00Z.
    const anchor = new Date('2026-03-02T14:00:00Z');
    const [week1, week2] = first(2, dueTimes(parseCadence('7 days'), anchor, 'America/New_York'));
    expect(week1).toBe('2026-03-09T13:00:00.000Z');
    expect(week2).toBe('2026-03-16T13:00:00.000Z');
    // The same cadence in UTC is plain 7 x 24 h.
    expect(first(1, dueTimes(parseCadence('7 days'), anchor, 'UTC'))).toEqual(['2026-03-09T14:00:00.000Z']);
  });

  it('a monthly cadence across the fall-back change in Europe keeps the local hour', () => {
    // Oct 15 09:00 CEST = 07:00Z; Nov 15 09:00 CET = 08:00Z.
    expect(first(1, dueTimes(parseCadence('monthly'), new Date('2026-10-15T07:00:00Z'), 'Europe/Paris'))).toEqual(['2026-11-15T08:00:00.000Z']);
  });

  it('a cron cadence: the file covers the nearest slot, the next window is the slot after it', () => {
    const mondays = parseCadence('0 9 * * 1');
    // Monday 2026-03-02 08:00 New York: an hour early for that Monday's slot -> next Monday.
    const early = fromWall(Date.UTC(2026, 2, 2, 8, 0), 'America/New_York');
    expect(first(2, dueTimes(mondays, early, 'America/New_York'))).toEqual(['2026-03-09T13:00:00.000Z', '2026-03-16T13:00:00.000Z']);
    // Tuesday, a day late for Monday's slot: still next Monday.
    const late = fromWall(Date.UTC(2026, 2, 3, 12, 0), 'America/New_York');
    expect(first(1, dueTimes(mondays, late, 'America/New_York'))).toEqual(['2026-03-09T13:00:00.000Z']);
  });
});

describe('cron search', () => {
  it('finds next and previous occurrences in a zone, Vixie day rules', () => {
    const firstAndFifteenth = parseCron('30 6 1,15 * *');
    expect(iso(cronNext(firstAndFifteenth, new Date('2026-01-01T06:30:00Z'), 'UTC'))).toBe('2026-01-15T06:30:00.000Z');
    expect(iso(cronPrevious(firstAndFifteenth, new Date('2026-01-15T06:29:00Z'), 'UTC'))).toBe('2026-01-01T06:30:00.000Z');
    // Day 13 or a Friday (either matches when both are restricted): Thu 2026-02-12 -> Fri 13th.
    const either = parseCron('0 0 13 * 5');
    expect(iso(cronNext(either, new Date('2026-02-10T00:00:00Z'), 'UTC'))).toBe('2026-02-13T00:00:00.000Z');
    expect(iso(cronNext(either, new Date('2026-02-13T00:00:00Z'), 'UTC'))).toBe('2026-02-20T00:00:00.000Z');
    // Sunday as 7; in Tokyo.
    expect(iso(cronNext(parseCron('0 9 * * 7'), new Date('2026-01-01T00:00:00Z'), 'Asia/Tokyo'))).toBe('2026-01-04T00:00:00.000Z');
  });

  it('maps wall times through DST gaps and overlaps', () => {
    // 02:30 does not exist on 2026-03-08 in New York: it maps to 03:30 EDT (07:30Z).
    expect(iso(fromWall(Date.UTC(2026, 2, 8, 2, 30), 'America/New_York'))).toBe('2026-03-08T07:30:00.000Z');
    // 01:30 happens twice on 2026-11-01: the first (EDT, 05:30Z).
    expect(iso(fromWall(Date.UTC(2026, 10, 1, 1, 30), 'America/New_York'))).toBe('2026-11-01T05:30:00.000Z');
    expect(toWall(new Date('2026-11-01T06:30:00Z'), 'America/New_York')).toBe(Date.UTC(2026, 10, 1, 1, 30));
    // East of UTC the same: 02:30 twice on 2026-10-25 in Berlin, the first (CEST, 00:30Z); skipped on 2026-03-29 (03:30 CEST, 01:30Z)
    expect(iso(fromWall(Date.UTC(2026, 9, 25, 2, 30), 'Europe/Berlin'))).toBe('2026-10-25T00:30:00.000Z');
    expect(iso(fromWall(Date.UTC(2026, 2, 29, 2, 30), 'Europe/Berlin'))).toBe('2026-03-29T01:30:00.000Z');
    expect(iso(fromWall(Date.UTC(2026, 2, 29, 9, 0), 'Asia/Tokyo'))).toBe('2026-03-29T00:00:00.000Z');
    // UTC+12/+13: Auckland skips 02:00-03:00 on 2026-09-27 (02:30 -> 03:30 NZDT, 14:30Z the day before) and
    // repeats 02:00-03:00 on 2026-04-05 (the first 02:30 is NZDT, 13:30Z the day before)
    expect(iso(fromWall(Date.UTC(2026, 8, 27, 2, 30), 'Pacific/Auckland'))).toBe('2026-09-26T14:30:00.000Z');
    expect(iso(fromWall(Date.UTC(2026, 3, 5, 2, 30), 'Pacific/Auckland'))).toBe('2026-04-04T13:30:00.000Z');
    expect(iso(fromWall(Date.UTC(2026, 6, 1, 9, 0), 'Asia/Kolkata'))).toBe('2026-07-01T03:30:00.000Z');
  });
});

describe('watch state', () => {
  const anchor = new Date('2026-01-01T00:00:00Z');
  const at = (hours: number) => new Date(anchor.getTime() + hours * 3_600_000);

  it('a weekly tenant is late once 7 days + the grace have passed, by the time since the due time', () => {
    const weekly = expectOf('7 days', 48);
    expect(watchState(weekly, anchor, at(7 * 24 + 47), 'UTC')).toMatchObject({ late: false, missedWindows: 0, lateByMs: 0 });
    const state = watchState(weekly, anchor, at(7 * 24 + 48), 'UTC');
    expect(state).toMatchObject({ late: true, missedWindows: 1, lateByMs: 48 * 3_600_000 });
    expect(iso(state.nextExpectedAt)).toBe('2026-01-08T00:00:00.000Z');
    const third = watchState(weekly, anchor, at(21 * 24 + 48), 'UTC');
    expect(third.missedWindows).toBe(3);
    expect(iso(third.lastMissedDueAt!)).toBe('2026-01-22T00:00:00.000Z');
  });
});
