import type pg from 'pg';
import { failedAlerts } from '../notify/status.js';
import { allConnectionsInUse } from '../store/db.js';

/** What the runtime knows about its own ticks; read by /healthz. */
export interface TickState {
  startedAt: Date;
  lastSuccessfulTickAt?: Date;
  lastTickError?: string;
  /** Configuration problems (src/runtime/config-reload.ts): shown as details, not unhealthy (the last good config runs). */
  configProblems?: string[];
}

export interface HealthCheck {
  ok: boolean;
  detail: string;
}

export interface HealthReport {
  status: 'ok' | 'unhealthy';
  /** alerts: failed alerts (ok false when any); it never makes the process unhealthy (a restart does not fix it). */
  checks: { database: HealthCheck; tick: HealthCheck; alerts: HealthCheck };
  /** One line per failing check that makes the process unhealthy. */
  reasons: string[];
  /** One line per failing check that needs an operator but not a restart (failed alerts). */
  warnings: string[];
  /** Present when there is something to know that does not make the service unhealthy. */
  details?: { config: string[] };
}

async function checkDatabase(pool: pg.Pool, timeoutMs: number, busyIsHealthy: boolean): Promise<HealthCheck> {
  // Embedded PGlite serves one connection: while a run holds it, a probe would only queue behind it.
  if (busyIsHealthy && allConnectionsInUse(pool)) {
    return { ok: true, detail: 'busy (its connection is in use by a run)' };
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([pool.query('select 1'), timeout]);
    return { ok: true, detail: 'answers' };
  } catch (error) {
    return { ok: false, detail: `database: ${(error as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A tick counts as recent when it finished within maxTickAgeSeconds; a process that has not
 * completed a tick yet gets the same grace from its start.
 */
export function checkTick(state: TickState, maxTickAgeSeconds: number, now = new Date()): HealthCheck {
  const reference = state.lastSuccessfulTickAt ?? state.startedAt;
  const ageSeconds = Math.round((now.getTime() - reference.getTime()) / 1000);
  if (ageSeconds <= maxTickAgeSeconds) {
    return {
      ok: true,
      detail: state.lastSuccessfulTickAt ? `last successful tick ${ageSeconds}s ago` : `no tick yet (started ${ageSeconds}s ago)`,
    };
  }
  const last = state.lastSuccessfulTickAt ? `last successful tick ${ageSeconds}s ago` : `no successful tick since start ${ageSeconds}s ago`;
  const error = state.lastTickError ? `; last error: ${state.lastTickError}` : '';
  return { ok: false, detail: `tick: ${last}, limit ${maxTickAgeSeconds}s (http.maxTickAgeSeconds)${error}` };
}

/** Alerts that failed for good: listed with how to send them again. */
async function checkAlerts(pool: pg.Pool, database: HealthCheck, timeoutMs: number): Promise<HealthCheck> {
  // Only on a database that answered and has a connection free (the probe must not queue behind a run).
  if (!database.ok || allConnectionsInUse(pool)) return { ok: true, detail: 'not checked (database busy or not answering)' };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const failed = await Promise.race([failedAlerts(pool, 5), timeout]);
    if (failed.count === 0) return { ok: true, detail: 'no failed alerts' };
    const ids = `${failed.ids.join(', ')}${failed.count > failed.ids.length ? ', ...' : ''}`;
    return {
      ok: false,
      detail: `alerts: ${failed.count} failed for good (ids ${ids}), not retried: see \`hris-ingest runs show\`, fix the cause, then \`hris-ingest notify retry --all-failed\``,
    };
  } catch (error) {
    return { ok: true, detail: `not checked: ${(error as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}

export async function healthReport(
  pool: pg.Pool,
  state: TickState,
  options: { maxTickAgeSeconds: number; databaseTimeoutMs?: number; busyIsHealthy?: boolean },
): Promise<HealthReport> {
  const database = await checkDatabase(pool, options.databaseTimeoutMs ?? 5000, options.busyIsHealthy === true);
  const tick = checkTick(state, options.maxTickAgeSeconds);
  const alerts = await checkAlerts(pool, database, options.databaseTimeoutMs ?? 5000);
  const reasons = [database, tick].filter((check) => !check.ok).map((check) => check.detail);
  const warnings = alerts.ok ? [] : [alerts.detail];
  const details = state.configProblems?.length ? { details: { config: state.configProblems } } : {};
  return { status: reasons.length === 0 ? 'ok' : 'unhealthy', checks: { database, tick, alerts }, reasons, warnings, ...details };
}
