/**
 * The late-file watch, run at the end of every poller tick: for each tenant with an `expect:` cadence,
 * when the grace after a due time has run out with no file taken, one "late file" alert per missed window
 * (and a "still late" reminder for each further one, unless expect.remind is false).
 *
 * Once across replicas and restarts: the alert is queued in the outbox in the same transaction as its
 * claim row (late_alerts, unique per tenant + anchor + window), so two pollers checking at once queue
 * one alert between them, and a restarted one finds the claim.
 */
import type { AppConfig } from '../config/app.js';
import { watchState, type WatchState } from '../config/cadence.js';
import type { TenantConfig } from '../config/tenant.js';
import { silentLogger, type Logger } from '../log.js';
import { enqueueAlert } from '../store/outbox.js';
import type { LateFilePayload } from '../notify/late-message.js';
import { transaction, type Database } from '../store/db.js';
import {
  anchorOf,
  claimLateWindow,
  filesWaitingInInbox,
  forgetFirstSeen,
  loadWatchInputs,
  readDropHealth,
  recordFirstSeen,
  setLateAlertOutbox,
  type DropHealthView,
  type LateAlertKind,
  type WatchInputs,
} from '../store/late-watch.js';
import { tenantLayout } from './layout.js';

export interface LateCheckContext {
  db: Database;
  app: Pick<AppConfig, 'schedule'>;
  tenants: Map<string, TenantConfig>;
  logger?: Logger;
  /** The watch's clock (tests); default the process clock. */
  clock?: () => Date;
}

export interface LateCheckResult {
  /** Watched tenants past their due time plus grace. */
  late: string[];
  /** Alerts queued by this check. */
  alerts: Array<{ tenant: string; kind: LateAlertKind; window: number }>;
}

/** Checks every watched tenant and queues the alerts of newly missed windows. */
export async function checkLateFiles(ctx: LateCheckContext): Promise<LateCheckResult> {
  const now = ctx.clock?.() ?? new Date();
  const watched = [...ctx.tenants.values()].filter((tenant) => tenant.expect);
  const result: LateCheckResult = { late: [], alerts: [] };
  await forgetFirstSeen(ctx.db.pool, [...ctx.tenants.values()].filter((tenant) => !tenant.expect).map((tenant) => tenant.id));
  if (watched.length === 0) return result;
  const ids = watched.map((tenant) => tenant.id);
  await recordFirstSeen(ctx.db.pool, ids, now);
  const inputs = await loadWatchInputs(ctx.db.pool, ids);
  let health: DropHealthView | null | undefined;
  for (const tenant of watched) {
    const input = inputs.get(tenant.id);
    const state = watchState(tenant.expect!, anchorOf(input, now), now, ctx.app.schedule.timezone);
    if (!state.late) continue;
    result.late.push(tenant.id);
    health ??= await readDropHealth(ctx.db.pool);
    const alert = await alertMissedWindow(ctx, tenant, input, state, health, now);
    if (alert) result.alerts.push(alert);
  }
  return result;
}

/** Claims the tenant's last missed window and queues its alert in one transaction (null: already alerted). */
async function alertMissedWindow(
  ctx: LateCheckContext,
  tenant: TenantConfig,
  input: WatchInputs | undefined,
  state: WatchState,
  health: DropHealthView | null,
  now: Date,
): Promise<LateCheckResult['alerts'][number] | null> {
  const expect = tenant.expect!;
  const waiting = await filesWaitingInInbox(ctx.db.pool, tenant.id);
  return transaction(ctx.db.pool, async (client) => {
    const claim = await claimLateWindow(client, {
      tenantId: tenant.id,
      anchorAt: state.anchorAt,
      windowNo: state.missedWindows,
      dueAt: state.lastMissedDueAt!,
      remind: expect.remind,
    });
    if (!claim) return null;
    const payload: LateFilePayload = {
      tenant: tenant.id,
      name: tenant.name,
      every: expect.every,
      graceHours: expect.graceHours,
      remind: expect.remind,
      timeZone: ctx.app.schedule.timezone,
      reminder: claim.kind === 'still_late',
      lastFile: input?.lastFile?.name ?? null,
      lastFileAt: input?.lastFile?.at.toISOString() ?? null,
      watchedSince: input?.lastFile ? null : state.anchorAt.toISOString(),
      expectedAt: state.nextExpectedAt.toISOString(),
      missedWindows: state.missedWindows,
      lateBySeconds: Math.round(state.lateByMs / 1000),
      at: now.toISOString(),
      inbox: tenantLayout(tenant).inbox,
      waitingInInbox: waiting,
      drop: health
        ? {
            failures: health.failures,
            failingSince: health.failingSince?.toISOString() ?? null,
            lastSuccessAt: health.lastSuccessAt?.toISOString() ?? null,
            lastError: health.lastError?.slice(0, 300) ?? null,
          }
        : null,
    };
    const outboxId = await enqueueAlert(client, { kind: 'late_file', tenantId: tenant.id, payload });
    await setLateAlertOutbox(client, claim.id, outboxId);
    (ctx.logger ?? silentLogger).warn(
      { stage: 'late', tenant: tenant.id, kind: claim.kind, window: state.missedWindows, lateBySeconds: payload.lateBySeconds, alertId: outboxId },
      claim.kind === 'late' ? 'tenant file late: alert queued' : 'tenant file still late: reminder queued',
    );
    return { tenant: tenant.id, kind: claim.kind, window: state.missedWindows };
  });
}

/** The tick's hook: the check, with a failure logged instead of failing the tick (the next tick retries). */
export async function checkLateFilesAfterTick(ctx: LateCheckContext): Promise<LateCheckResult | null> {
  try {
    return await checkLateFiles(ctx);
  } catch (error) {
    (ctx.logger ?? silentLogger).warn({ stage: 'late', err: (error as Error).message }, 'late-file check failed; retried next tick');
    return null;
  }
}
