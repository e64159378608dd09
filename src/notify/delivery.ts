/**
 * Delivers the outbox: claims due alerts (`for update skip locked`, a lease in locked_until, so replicas
 * share the work and a crashed worker's claim runs out), builds each message from the run as stored,
 * renders its files, sends, and records the result. All state is in Postgres: a restart picks up where
 * the last process stopped.
 *
 * Once, in two steps: the message is posted and its ts committed before the files go up in its thread.
 * A failed upload is retried as an upload only (the message is not posted again). The one window for a
 * repeat: the process dies after Slack accepted a post (or the file upload's completion) and before the
 * ts (or files_done_at) is committed; the next attempt then posts that step again. A lease that runs out
 * while a delivery is still running (a very slow upload) is the other, much rarer, way to a repeat.
 *
 * Failures by kind (src/notify/notifier.ts FailureKind): a transient one is retried with backoff; a message
 * Slack refuses for its content is sent once more in a minimal plain form (minimalMessage); any other
 * permanent one marks the alert failed (failed_at, logged once at error level), and it waits for
 * `hris-ingest notify retry`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { TenantConfig } from '../config/tenant.js';
import type { DiffCounts } from '../diff/diff.js';
import { silentLogger, type Logger } from '../log.js';
import { renderRunFilesWith } from '../output/render.js';
import type { Database, Queryable } from '../store/db.js';
import { fullCounts, type RunStatus } from '../store/runs.js';
import { lateFileMessage, lateFilePayload, withLateness } from './late-message.js';
import { unappliedRuns } from '../store/run-applied.js';
import { fitSlackLimits } from './limits.js';
import { dropRecoveredMessage, dropUnreachableMessage, fileTooLargeMessage, minimalMessage, runMessage, testMessage, unappliedWarning, type RunView } from './messages.js';
import { failureKind, NotifyError, type AlertFile, type AlertMessage, type Notifier, type PostedMessage } from './notifier.js';
import { pgpKeyMessage } from './pgp-message.js';
import { engineAlertMessage, isEngineAlert } from './engine-alerts.js';

export interface BackoffOptions {
  /** First retry after this long (default 5 s). */
  baseMs: number;
  /** Never wait longer than this between attempts (default 15 min). */
  capMs: number;
  /** Share of the delay taken off at random, so replicas and alerts spread out (default 0.25). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 5_000, capMs: 15 * 60_000, jitter: 0.25 };

export interface DeliveryContext {
  db: Database;
  notifier: Notifier;
  tenants: Map<string, TenantConfig>;
  /** AppConfig.http.dashboardUrl: links to runs. */
  dashboardUrl?: string;
  /** AppConfig.schedule.timezone: the late-file watch's calendar and the times in its messages (default UTC). */
  timeZone?: string;
  logger?: Logger;
  backoff?: Partial<BackoffOptions>;
  /** How long a claim holds (default 10 min); a crashed worker's alerts are taken over after it. */
  leaseMs?: number;
  /** Alerts claimed per pass (default 10). */
  batchSize?: number;
  /** Clock for tests (simulated outages); default the database's now(). */
  now?: () => Date;
  random?: () => number;
  /** Where files are rendered before upload (a temp folder per alert under it); default the OS temp dir. */
  workDir?: string;
}

export interface DeliveryReport {
  delivered: number;
  /** Not delivered in this pass (retried later, or failed for good: failedPermanently). */
  failed: number;
  /** Of the failed: marked failed (a permanent error), not retried until `notify retry`. */
  failedPermanently: number;
  /** Alerts with nothing to post (a duplicate the tenant does not want to hear about, a run no longer stored). */
  skipped: number;
}

interface OutboxRow {
  id: number;
  kind: string;
  tenant_id: string | null;
  run_id: number | null;
  payload: Record<string, unknown>;
  attempts: number;
  channel_id: string | null;
  message_ts: string | null;
  files_done_at: Date | null;
  fallback_reason: string | null;
  /** The lease this claim set, as PostgreSQL's text (microseconds kept): releasing compares it. */
  lease: string;
}

/** Delay before the next attempt: exponential from baseMs, capped, with jitter. ATTEMPTS counts the failed ones. */
export function backoffDelay(attempts: number, options: Partial<BackoffOptions> = {}, random: () => number = Math.random): number {
  const { baseMs, capMs, jitter } = { ...DEFAULT_BACKOFF, ...options };
  const exponential = Math.min(capMs, baseMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)));
  return Math.round(exponential * (1 - jitter * random()));
}

const nowParam = (ctx: DeliveryContext) => (ctx.now ? ctx.now().toISOString() : null);

/**
 * One pass: delivers the due alerts, batchSize at a time, until none is left that this pass can take
 * (an alert that follows a just-delivered one of the same run is taken in the same pass). A failed
 * alert waits for its next attempt time, so a pass ends even while Slack is down. An aborted SIGNAL
 * ends the pass after the batch in hand (a shutdown does not wait for a whole backlog).
 */
export async function deliverPending(
  ctx: DeliveryContext,
  options: { maxBatches?: number; signal?: AbortSignal; /** Only these alerts (the CLI's own run, `notify retry`). */ only?: number[] } = {},
): Promise<DeliveryReport> {
  const report: DeliveryReport = { delivered: 0, failed: 0, failedPermanently: 0, skipped: 0 };
  const tried = new Set<number>();
  await releaseUnsettled(ctx);
  for (let batch = 0; batch < (options.maxBatches ?? 20) && !options.signal?.aborted; batch++) {
    const claimed = await claim(ctx, [...tried], options.only);
    if (claimed.length === 0) break;
    const open = new Map(claimed.map((row) => [row.id, row.lease]));
    try {
      for (const row of claimed) {
        tried.add(row.id);
        if (!(await renewClaim(ctx, row))) {
          open.delete(row.id); // its lease ran out while the batch went on, and another worker has it
          continue;
        }
        open.set(row.id, row.lease);
        const outcome = await deliverOne(ctx, row);
        open.delete(row.id);
        if (outcome === 'failedPermanently') report.failed++;
        report[outcome]++;
      }
    } catch (error) {
      // Only the database can fail a pass (deliverOne settles every notifier error): the claims left open
      // are released by this context's next pass instead of waiting out their lease.
      const unsettled = unsettledClaims.get(ctx) ?? new Map<number, string>();
      for (const [id, lease] of open) unsettled.set(id, lease);
      unsettledClaims.set(ctx, unsettled);
      throw error;
    }
  }
  return report;
}

/**
 * Claims of a pass that failed because the database went away, by context (the daemon keeps one for its
 * delivery loop). Without this, those alerts waited for their lease (10 minutes) after the database came back.
 */
const unsettledClaims = new WeakMap<DeliveryContext, Map<number, string>>();

/**
 * Releases this context's unsettled claims whose lease is still the one it set (after the lease ran out,
 * another worker may hold the alert: then it is not ours to release). Kept for the next pass if this fails.
 */
async function releaseUnsettled(ctx: DeliveryContext): Promise<void> {
  const unsettled = unsettledClaims.get(ctx);
  if (!unsettled || unsettled.size === 0) return;
  await ctx.db.pool.query(
    `update outbox o set locked_until = null
     from unnest($1::bigint[], $2::text[]) c(id, lease)
     where o.id = c.id and o.locked_until = c.lease::timestamptz and o.delivered_at is null`,
    [[...unsettled.keys()], [...unsettled.values()]],
  );
  unsettled.clear();
}

/**
 * Renews ROW's lease just before it is delivered, if the lease is still the one this worker set, and
 * refreshes what is known of its delivery. A batch shares one lease: with Slack slow, it ran out before the
 * batch's last alerts, another worker took them, and both posted them.
 */
async function renewClaim(ctx: DeliveryContext, row: OutboxRow): Promise<boolean> {
  const result = await ctx.db.pool.query<Pick<OutboxRow, 'lease' | 'channel_id' | 'message_ts' | 'files_done_at' | 'fallback_reason'>>(
    `update outbox set locked_until = coalesce($3::timestamptz, now()) + $4 * interval '1 millisecond'
     where id = $1 and locked_until = $2::timestamptz and delivered_at is null and failed_at is null
     returning locked_until::text as lease, channel_id, message_ts, files_done_at, fallback_reason`,
    [row.id, row.lease, nowParam(ctx), ctx.leaseMs ?? 10 * 60_000],
  );
  const fresh = result.rows[0];
  if (!fresh) return false;
  Object.assign(row, fresh);
  return true;
}

async function claim(ctx: DeliveryContext, exclude: number[], only?: number[]): Promise<OutboxRow[]> {
  // An alert waits for earlier undelivered alerts of the same run (held before approved).
  const result = await ctx.db.pool.query<OutboxRow>(
    `with clock as (select coalesce($1::timestamptz, now()) as now),
     due as (
       select o.id from outbox o, clock
       where o.delivered_at is null and o.failed_at is null and o.next_attempt_at <= clock.now
         and (o.locked_until is null or o.locked_until <= clock.now)
         and o.id <> all($4::bigint[])
         and ($5::bigint[] is null or o.id = any($5::bigint[]))
         and not exists (select 1 from outbox e where e.run_id = o.run_id and e.id < o.id and e.delivered_at is null)
       order by o.id
       limit $2
       for update of o skip locked
     )
     update outbox set locked_until = clock.now + $3 * interval '1 millisecond', attempts = attempts + 1, last_attempt_at = clock.now
     from due, clock
     where outbox.id = due.id
     returning outbox.id::int as id, kind, tenant_id, run_id::int as run_id, payload, attempts, channel_id, message_ts, files_done_at, fallback_reason,
               locked_until::text as lease`,
    [nowParam(ctx), ctx.batchSize ?? 10, ctx.leaseMs ?? 10 * 60_000, exclude, only ?? null],
  );
  return result.rows.sort((a, b) => a.id - b.id);
}

type Outcome = keyof DeliveryReport;

async function deliverOne(ctx: DeliveryContext, row: OutboxRow): Promise<Outcome> {
  const logger = ctx.logger ?? silentLogger;
  const where = { alertId: row.id, kind: row.kind, tenant: row.tenant_id ?? undefined, runId: row.run_id ?? undefined };
  try {
    const built = await buildMessage(ctx, row);
    if (!built.message) {
      await markDelivered(ctx, row.id, `skipped: ${built.skipReason}`);
      logger.info({ ...where, reason: built.skipReason }, 'alert skipped');
      return 'skipped';
    }
    const message = built.message;
    let posted: PostedMessage;
    if (row.message_ts && row.channel_id) {
      posted = { channel: row.channel_id, ts: row.message_ts };
    } else {
      posted = await postWithFallback(ctx, row, message, built.minimal ?? (() => message));
      await ctx.db.pool.query('update outbox set channel_id = $2, message_ts = $3 where id = $1', [row.id, posted.channel, posted.ts]);
    }
    if (message.attach.length > 0 && !row.files_done_at && row.run_id !== null) {
      await attachFiles(ctx, row.run_id, message, posted);
      await ctx.db.pool.query('update outbox set files_done_at = coalesce($2::timestamptz, now()) where id = $1', [row.id, nowParam(ctx)]);
    }
    await markDelivered(ctx, row.id, posted.ts);
    const form = row.fallback_reason ? { shortForm: row.fallback_reason } : {};
    logger.info({ ...where, ...form, notifier: ctx.notifier.name, attempts: row.attempts, ref: posted.ts }, 'alert delivered');
    return 'delivered';
  } catch (error) {
    const reason = (error as Error)?.message ?? String(error);
    if (failureKind(error) !== 'transient') {
      await markFailed(ctx, row.id, reason);
      // Logged once: a failed alert is not claimed again until `notify retry`.
      logger.error(
        { ...where, attempts: row.attempts, code: (error as NotifyError).code, err: reason },
        `alert failed and will not be retried: fix the cause, then run "hris-ingest notify retry ${row.id}"`,
      );
      return 'failedPermanently';
    }
    const notifyError = error instanceof NotifyError ? error : undefined;
    const delay = notifyError?.retryAfterMs ?? backoffDelay(row.attempts, ctx.backoff, ctx.random);
    await ctx.db.pool.query(
      `update outbox set locked_until = null, last_error = $2,
         next_attempt_at = coalesce($3::timestamptz, now()) + $4 * interval '1 millisecond'
       where id = $1`,
      [row.id, reason.slice(0, 1000), nowParam(ctx), delay],
    );
    logger.warn({ ...where, attempts: row.attempts, retryInMs: delay, err: reason }, 'alert not delivered; will retry');
    return 'failed';
  }
}

/**
 * Posts the message; when Slack refuses it for its content (msg_too_long, invalid_blocks), records that
 * and posts the minimal form instead, once per refusal: a refusal of the minimal form is permanent.
 */
async function postWithFallback(ctx: DeliveryContext, row: OutboxRow, message: AlertMessage, minimal: (refusal: string) => AlertMessage): Promise<PostedMessage> {
  if (!row.fallback_reason) {
    try {
      return await ctx.notifier.post(message);
    } catch (error) {
      if (failureKind(error) !== 'content') throw error;
      const refusal = (error as NotifyError).code ?? (error as Error).message;
      await ctx.db.pool.query('update outbox set fallback_reason = $2 where id = $1', [row.id, refusal.slice(0, 200)]);
      row.fallback_reason = refusal;
      (ctx.logger ?? silentLogger).warn(
        { alertId: row.id, kind: row.kind, runId: row.run_id ?? undefined, code: refusal },
        'Slack refused the alert for its content; sending its short form',
      );
    }
  }
  try {
    return await ctx.notifier.post(minimal(row.fallback_reason));
  } catch (error) {
    if (failureKind(error) !== 'content') throw error;
    throw new NotifyError(`Slack refused the alert and its short form (${row.fallback_reason}, then ${(error as Error).message})`, {
      kind: 'permanent',
      cause: error,
    });
  }
}

async function markFailed(ctx: DeliveryContext, id: number, reason: string): Promise<void> {
  await ctx.db.pool.query(
    'update outbox set failed_at = coalesce($2::timestamptz, now()), locked_until = null, last_error = $3 where id = $1',
    [id, nowParam(ctx), reason.slice(0, 1000)],
  );
}

async function markDelivered(ctx: DeliveryContext, id: number, ref: string): Promise<void> {
  await ctx.db.pool.query(
    `update outbox set delivered_at = coalesce($2::timestamptz, now()), delivery_ref = $3, locked_until = null, last_error = null
     where id = $1`,
    [id, nowParam(ctx), ref],
  );
}

async function attachFiles(ctx: DeliveryContext, runId: number, message: AlertMessage, posted: PostedMessage): Promise<void> {
  const dir = await mkdtemp(path.join(ctx.workDir ?? os.tmpdir(), `hris-alert-${runId}-`));
  try {
    const client = await ctx.db.pool.connect();
    let rendered;
    try {
      // Not renderRunFiles: that records the paths in run_files, and these are gone after the upload.
      rendered = await renderRunFilesWith(client, runId, dir);
    } finally {
      client.release();
    }
    const files: AlertFile[] = [];
    for (const kind of message.attach) {
      const file = rendered[kind];
      if (file) files.push({ name: path.basename(file.path), path: file.path });
    }
    if (files.length > 0) await ctx.notifier.attach(posted, files, message);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const dropPayload = z
  .object({
    drop: z.string().optional(),
    failures: z.number().optional(),
    since: z.string().nullable().optional(),
    error: z.string().optional(),
  })
  .loose();

const pgpKeyPayload = z.object({ file: z.string(), error: z.string() });

const tooLargePayload = z.object({ file: z.string(), bytes: z.number(), limit: z.number(), moved: z.boolean() });

interface BuiltMessage {
  message: AlertMessage | null;
  skipReason?: string;
  /** The short form sent instead when Slack refuses MESSAGE for its content. */
  minimal?: (refusal: string) => AlertMessage;
}

/** The message within Slack's limits, and its short form. */
async function buildMessage(ctx: DeliveryContext, row: OutboxRow): Promise<BuiltMessage> {
  const built = await buildFullMessage(ctx, row);
  if (!built.message) return built;
  const message = fitSlackLimits(built.message);
  const run = built.run;
  return {
    message,
    minimal: (refusal) => minimalMessage({ kind: message.kind, alertId: row.id, channel: message.channel, ...(run ? { run } : {}) }, refusal),
  };
}

async function buildFullMessage(ctx: DeliveryContext, row: OutboxRow): Promise<BuiltMessage & { run?: RunView }> {
  if (isEngineAlert(row.kind)) {
    const built = await engineAlertMessage(ctx.db.pool, ctx.tenants, row);
    return built.message ? { message: { ...built.message, alertId: row.id } } : built;
  }
  switch (row.kind) {
    case 'drop_unreachable':
      return { message: { ...dropUnreachableMessage(dropPayload.parse(row.payload)), alertId: row.id } };
    case 'drop_recovered':
      return { message: { ...dropRecoveredMessage(dropPayload.parse(row.payload)), alertId: row.id } };
    case 'file_too_large': {
      const tenant = row.tenant_id === null ? undefined : ctx.tenants.get(row.tenant_id);
      const message = fileTooLargeMessage({ tenant: row.tenant_id ?? 'unknown tenant', ...tooLargePayload.parse(row.payload) }, { channel: tenant?.slackChannel });
      return { message: { ...message, alertId: row.id } };
    }
    case 'late_file': {
      const tenant = row.tenant_id === null ? undefined : ctx.tenants.get(row.tenant_id);
      return { message: { ...lateFileMessage(lateFilePayload.parse(row.payload), { channel: tenant?.slackChannel }), alertId: row.id } };
    }
    case 'pgp_key': {
      const tenant = row.tenant_id === null ? undefined : ctx.tenants.get(row.tenant_id);
      const payload = pgpKeyPayload.parse(row.payload);
      return { message: { ...pgpKeyMessage({ tenant: row.tenant_id ?? 'unknown tenant', ...payload }, { channel: tenant?.slackChannel }), alertId: row.id } };
    }
    case 'test': {
      const channel = typeof row.payload.channel === 'string' ? row.payload.channel : undefined;
      return { message: { ...testMessage({ channel, at: new Date() }), alertId: row.id } };
    }
    case 'run': {
      if (row.run_id === null) return { message: null, skipReason: 'the run is no longer stored' };
      const loaded = await loadRunView(ctx.db.pool, row.run_id, row.payload.status);
      if (!loaded) return { message: null, skipReason: 'the run is no longer stored' };
      const tenant = ctx.tenants.get(loaded.view.tenantId);
      let message = runMessage(loaded.view, {
        dashboardUrl: ctx.dashboardUrl,
        channel: tenant?.slackChannel,
        notifyDuplicates: tenant?.notifyDuplicates ?? true,
        // Retention removed the run's changes before the alert went out (Slack down for longer than retentionDays).
        filesRemoved: loaded.purged,
      });
      if (!message) return { message: null, skipReason: 'duplicate notes are off for this tenant' };
      message = await withLateness(ctx.db.pool, message, loaded.view, tenant, ctx.timeZone ?? 'UTC');
      const unapplied = unappliedWarning(loaded.view);
      if (unapplied) {
        message.blocks.splice(message.blocks.length - 1, 0, unapplied.block);
        message.text = `${message.text} ${unapplied.text}`;
      }
      return { message: { ...message, alertId: row.id }, run: loaded.view };
    }
    default:
      throw new NotifyError(`unknown alert kind "${row.kind}"`);
  }
}

const RUN_STATUSES: RunStatus[] = ['accepted', 'rejected', 'held', 'duplicate'];

/** The run as a message needs it (the first errors included), or null when it is gone. */
export async function loadRunView(db: Queryable, runId: number, statusAtAlert?: unknown, maxErrors = 10): Promise<{ view: RunView; purged: boolean } | null> {
  const run = (
    await db.query<{
      id: number;
      tenant_id: string;
      file_name: string;
      file_date: Date | null;
      status: RunStatus;
      rows: number;
      counts: Partial<DiffCounts>;
      error_count: number;
      reasons: string[];
      warnings: string[];
      decided_by: string | null;
      duplicate_of: number | null;
      purged_at: Date | null;
    }>(
      `select id::int as id, tenant_id, file_name, file_date, status, rows, counts, error_count, reasons, warnings, decided_by,
              duplicate_of::int as duplicate_of, purged_at
       from runs where id = $1`,
      [runId],
    )
  ).rows[0];
  if (!run) return null;
  const errors = await db.query<{ line: number | null; column_name: string | null; value: string | null; message: string }>(
    'select line, column_name, value, message from run_errors where run_id = $1 order by line nulls first, seq limit $2',
    [runId, maxErrors],
  );
  const status = RUN_STATUSES.includes(statusAtAlert as RunStatus) ? (statusAtAlert as RunStatus) : run.status;
  const counts = run.counts;
  return {
    purged: run.purged_at !== null,
    view: {
      id: run.id,
      tenantId: run.tenant_id,
      fileName: run.file_name,
      fileDate: run.file_date,
      status,
      currentStatus: run.status,
      rows: run.rows,
      counts: fullCounts(counts),
      errorCount: run.error_count,
      errors: errors.rows.map((e) => ({ line: e.line, column: e.column_name, value: e.value, message: e.message })),
      reasons: run.reasons,
      warnings: run.warnings,
      decidedBy: run.decided_by,
      duplicateOf: run.duplicate_of,
      unappliedEarlier: await unappliedRuns(db, run.tenant_id, { before: run.id, limit: 5 }),
    },
  };
}

/** Undelivered alerts and the age of the oldest (for metrics and health). */
export async function outboxBacklog(db: Queryable): Promise<{ pending: number; oldestCreatedAt: Date | null }> {
  const result = await db.query<{ pending: number; oldest: Date | null }>(
    'select count(*)::int as pending, min(created_at) as oldest from outbox where delivered_at is null',
  );
  return { pending: result.rows[0]?.pending ?? 0, oldestCreatedAt: result.rows[0]?.oldest ?? null };
}

export interface DeliveryLoop {
  /** Runs a pass now (e.g. right after an ingest) instead of waiting for the interval. */
  kick(): void;
  /** Stops the loop; resolves once the batch in flight (if any) has finished. */
  stop(): Promise<void>;
}

/** Delivers every INTERVAL_MS (one pass at a time). */
export function startDeliveryLoop(ctx: DeliveryContext, options: { intervalMs?: number } = {}): DeliveryLoop {
  const intervalMs = options.intervalMs ?? 5_000;
  const logger = ctx.logger ?? silentLogger;
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  // A database outage fails every pass: said at the first, then once a minute with the count, and when it ends.
  let failedPasses = 0;
  const logEvery = Math.max(1, Math.round(60_000 / intervalMs));

  const schedule = (delay: number) => {
    if (stopping.signal.aborted) return;
    clearTimeout(timer);
    timer = setTimeout(() => void pass(), delay);
  };
  const pass = async (): Promise<void> => {
    if (running || stopping.signal.aborted) return;
    running = (async () => {
      try {
        await deliverPending(ctx, { signal: stopping.signal });
        if (failedPasses > 0) logger.info({ failedPasses }, 'alert delivery passes work again');
        failedPasses = 0;
      } catch (error) {
        if (failedPasses++ % logEvery === 0) {
          logger.warn({ err: (error as Error).message, failedPasses }, 'alert delivery pass failed; will retry');
        }
      }
    })();
    await running;
    running = undefined;
    schedule(intervalMs);
  };
  schedule(0);
  return {
    kick: () => schedule(0),
    async stop() {
      stopping.abort();
      clearTimeout(timer);
      await running;
    },
  };
}
