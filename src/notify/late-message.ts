/**
 * Messages of the late-file watch: the "late file" / "still late" alert (built from its outbox payload,
 * a snapshot taken when the window was claimed), and the note a late file's own run alert gets.
 * Customer text (file names, the drop's last error) goes through the same escaping as every alert.
 */
import { formatDuration } from 'date-fns/formatDuration';
import { intervalToDuration } from 'date-fns/intervalToDuration';
import { z } from 'zod';
import { arrivalLateness } from '../config/cadence.js';
import type { TenantConfig } from '../config/tenant.js';
import { toWall } from '../config/zoned.js';
import { runArrival } from '../store/late-watch.js';
import type { Queryable } from '../store/db.js';
import { escapeMrkdwn, literal, notificationText, type RunView } from './messages.js';
import type { AlertMessage, Block } from './notifier.js';

export const lateFilePayload = z
  .object({
    tenant: z.string(),
    name: z.string(),
    every: z.string(),
    graceHours: z.number(),
    remind: z.boolean(),
    timeZone: z.string(),
    /** false: the first alert of this silence ("late"); true: a "still late" reminder. */
    reminder: z.boolean(),
    lastFile: z.string().nullable(),
    lastFileAt: z.string().nullable(),
    /** When no file came yet: since when the tenant is watched. */
    watchedSince: z.string().nullable(),
    expectedAt: z.string(),
    missedWindows: z.number(),
    lateBySeconds: z.number(),
    at: z.string(),
    inbox: z.string(),
    waitingInInbox: z.number(),
    drop: z
      .object({ failures: z.number(), failingSince: z.string().nullable(), lastSuccessAt: z.string().nullable(), lastError: z.string().nullable() })
      .nullable(),
  })
  .loose();
export type LateFilePayload = z.infer<typeof lateFilePayload>;

/** "2026-03-09 09:00 America/New_York" (the schedule's time zone; "UTC" when that is it). */
export function zonedTime(instant: Date | string, timeZone: string): string {
  const date = typeof instant === 'string' ? new Date(instant) : instant;
  if (Number.isNaN(date.getTime())) return String(instant);
  return `${new Date(toWall(date, timeZone)).toISOString().slice(0, 16).replace('T', ' ')} ${timeZone}`;
}

/** "3 days 4 hours": the two largest units of the time from START to END (date-fns). */
export function lateDuration(start: Date, end: Date): string {
  if (end.getTime() - start.getTime() < 60_000) return 'less than a minute';
  const duration = intervalToDuration({ start, end });
  const units = (['years', 'months', 'days', 'hours', 'minutes'] as const).filter((unit) => (duration[unit] ?? 0) > 0).slice(0, 2);
  return formatDuration(duration, { format: [...units] });
}

// 300: the drop's last error is quoted too, longer than a file name.
const code = (text: string) => literal(text, 300);
const section = (text: string): Block => ({ type: 'section', text: { type: 'mrkdwn', text: text.slice(0, 3000) } });

function dropLine(payload: LateFilePayload): string {
  const drop = payload.drop;
  if (!drop || (drop.failures === 0 && !drop.lastSuccessAt)) {
    return `No poller has reached the SFTP drop yet: check that the service runs (${code('hris-ingest start')}, or ${code('poll --once')} from cron).`;
  }
  if (drop.failures > 0) {
    return (
      `*The SFTP drop is unreachable* since ${zonedTime(drop.failingSince ?? payload.at, payload.timeZone)} (${drop.failures} failed polls in a row): ` +
      `the file may be waiting there, so fix the drop first.${drop.lastError ? ` Last error: ${code(drop.lastError)}` : ''}`
    );
  }
  return `The SFTP drop is reachable (last successful poll ${drop.lastSuccessAt ? zonedTime(drop.lastSuccessAt, payload.timeZone) : 'unknown'}), so nothing was uploaded to the inbox.`;
}

/** The "late file" alert (or, for a reminder, "still late") to the tenant's channel. */
export function lateFileMessage(payload: LateFilePayload, options: { channel?: string } = {}): AlertMessage {
  const tz = payload.timeZone;
  const late = lateDuration(new Date(payload.expectedAt), new Date(payload.at));
  const status = payload.reminder ? 'still late' : 'late';
  const last = payload.lastFile
    ? `${code(payload.lastFile)} at ${zonedTime(payload.lastFileAt ?? payload.at, tz)}`
    : `none yet (watched since ${zonedTime(payload.watchedSince ?? payload.at, tz)})`;
  const missed = payload.missedWindows > 1 ? ` (${payload.missedWindows} windows missed)` : '';
  const checks = [
    `The customer's export job: did it run, and did its upload to ${code(payload.inbox)} succeed?`,
    dropLine(payload),
    ...(payload.waitingInInbox > 0
      ? [`${payload.waitingInInbox} file(s) are in the inbox but not taken yet (still being uploaded, or failing: see the poller's logs).`]
      : []),
    `Every tenant's status: ${code('hris-ingest tenants')}.`,
  ];
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: `${payload.tenant}: membership file ${status}`.slice(0, 150) } },
    section(
      `*Expected:* every ${code(payload.every)} (grace ${payload.graceHours} h); the next file was due ${zonedTime(payload.expectedAt, tz)}.\n` +
        `*Late by:* ${escapeMrkdwn(late)}${missed}\n*Last file:* ${last}`,
    ),
    section(`*What to check:*\n${checks.map((line) => `• ${line}`).join('\n')}`),
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: `tenant ${code(payload.tenant)} · ${payload.remind ? 'a reminder follows each further missed window' : 'no reminders (expect.remind: false)'} · the file's own alert will say how late it came`,
        },
      ],
    },
  ];
  // The notification line is escaped and cut like every alert's (a file name may hold <!channel>).
  const text = notificationText(
    `${payload.tenant}: membership file ${status}: expected every ${payload.every}, due ${zonedTime(payload.expectedAt, tz)}, late by ${late}${missed}. ` +
    `Last file: ${payload.lastFile ? `${payload.lastFile} at ${zonedTime(payload.lastFileAt ?? payload.at, tz)}` : 'none yet'}. ` +
      (payload.drop && payload.drop.failures > 0 ? 'The SFTP drop is unreachable.' : "Check the customer's export job."),
  );
  return { kind: 'late_file', text, blocks, attach: [], tenantId: payload.tenant, ...(options.channel ? { channel: options.channel } : {}) };
}

/**
 * A run alert with a note when its file came late (after the due time plus the grace of the tenant's
 * cadence); unchanged otherwise, and for rejected files (they do not count as the file that was owed).
 */
export async function withLateness(db: Queryable, message: AlertMessage, run: RunView, tenant: TenantConfig | undefined, timeZone: string): Promise<AlertMessage> {
  if (!tenant?.expect || run.status === 'rejected') return message;
  const arrival = await runArrival(db, run.id);
  if (!arrival?.anchorAt) return message;
  const lateness = arrivalLateness(tenant.expect, arrival.anchorAt, arrival.arrivedAt, timeZone);
  if (!lateness.late) return message;
  const by = lateDuration(lateness.expectedAt, arrival.arrivedAt);
  const note = section(
    `*This file came late:* late by ${escapeMrkdwn(by)}; it was due ${zonedTime(lateness.expectedAt, timeZone)} (every ${code(tenant.expect.every)}, ` +
      `grace ${tenant.expect.graceHours} h). The late-file watch starts over from this file.`,
  );
  const blocks = [...message.blocks];
  // Before the closing context line (run id, links), if there is one.
  blocks.splice(blocks.at(-1)?.type === 'context' ? blocks.length - 1 : blocks.length, 0, note);
  return { ...message, blocks, text: `${message.text} Late by ${by} (due ${zonedTime(lateness.expectedAt, timeZone)}).` };
}
