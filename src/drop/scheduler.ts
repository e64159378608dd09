import cron from 'node-cron';
import { silentLogger } from '../log.js';
import { checkLateFilesAfterTick } from './late.js';
import { pollOnce, type PollerContext, type TickResult } from './poller.js';

export interface PollerStatus {
  running: boolean;
  lastTickStartedAt: Date | null;
  lastTickFinishedAt: Date | null;
  lastResult: TickResult | null;
  /** Ticks skipped because the previous one was still running. */
  skippedTicks: number;
}

export interface PollerScheduler {
  /** Runs a tick now unless one is running (then resolves with null: ticks never overlap). */
  tickNow(): Promise<TickResult | null>;
  status(): PollerStatus;
  nextRun(): Date | null;
  /** Stops scheduling and waits for a running tick to finish. */
  stop(): Promise<void>;
}

/**
 * The poller daemon: a tick on schedule.cron in schedule.timezone (node-cron), never overlapping its
 * own ticks. Replicas coordinate through the database (tenant claims), not through the schedule.
 */
export function startPollerScheduler(
  ctx: PollerContext,
  options: { onTick?: (result: TickResult) => void; /** Before each tick (the tenant config reload); a failure is logged and the tick goes on. */ beforeTick?: () => Promise<void> } = {},
): PollerScheduler {
  const { cron: expression, timezone } = ctx.app.schedule;
  const logger = ctx.logger ?? silentLogger;
  const problem = scheduleCronProblem(expression);
  if (problem) throw new Error(problem);
  const status: PollerStatus = { running: false, lastTickStartedAt: null, lastTickFinishedAt: null, lastResult: null, skippedTicks: 0 };
  let inFlight: Promise<TickResult | null> | null = null;

  const tick = (): Promise<TickResult | null> => {
    if (inFlight) {
      status.skippedTicks++;
      logger.debug('previous poll tick still running: tick skipped');
      return Promise.resolve(null);
    }
    status.running = true;
    status.lastTickStartedAt = new Date();
    const before = options.beforeTick
      ? options.beforeTick().catch((error: unknown) => logger.error({ err: (error as Error).message }, 'before-tick step failed'))
      : Promise.resolve();
    inFlight = before
      .then(() => pollOnce(ctx))
      .then(async (result) => {
        await checkLateFilesAfterTick(ctx);
        status.lastResult = result;
        options.onTick?.(result);
        return result;
      })
      .catch((error: unknown) => {
        logger.error({ err: (error as Error).message }, 'poll tick failed');
        return null;
      })
      .finally(() => {
        status.running = false;
        status.lastTickFinishedAt = new Date();
        inFlight = null;
      });
    return inFlight;
  };

  const task = cron.schedule(expression, () => void tick(), { timezone, noOverlap: true, name: 'drop-poller' });
  logger.info({ cron: expression, timezone, next: task.getNextRun()?.toISOString() ?? null }, 'drop poller scheduled');

  return {
    tickNow: tick,
    status: () => ({ ...status }),
    nextRun: () => task.getNextRun(),
    async stop() {
      await task.stop();
      await task.destroy();
      await inFlight;
    },
  };
}

/** Why EXPRESSION cannot be the poller's schedule.cron (node-cron's own check), or null. */
export function scheduleCronProblem(expression: string): string | null {
  const validation = cron.validateDetailed(expression);
  if (validation.valid) return null;
  const problems = validation.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
  return `schedule.cron "${expression}" is not a valid cron expression (${problems}); e.g. "*/5 * * * *" for every 5 minutes`;
}
