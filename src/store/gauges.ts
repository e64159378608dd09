import type pg from 'pg';
import type { TenantConfig } from '../config/tenant.js';
import { allConnectionsInUse } from './db.js';
import { tenantWatchStatuses } from './late-watch.js';

/**
 * The database values src/metrics.ts shows on each scrape (it takes them as callbacks, so metrics knows
 * nothing of the store). Each answers undefined when it has no fresh value: an unreachable or busy
 * database keeps the gauge's last value (a scrape must not wait for a run to give back the embedded
 * database's one connection); /healthz reports the database itself.
 */
export interface StoreGauges {
  /** Alerts recorded but not yet delivered. */
  outboxBacklog(): Promise<number | undefined>;
  /** Time of the last accepted run (baselines aside), per tenant. */
  lastSuccess(): Promise<{ tenant: string; at: Date }[] | undefined>;
  /** Alerts that failed for good, waiting for `notify retry`. */
  failedAlerts(): Promise<number | undefined>;
  /** The late-file watch per watched tenant (only with `watch`). */
  lateWatch?(): Promise<{ tenant: string; lastFileAt: Date | null; late: boolean }[] | undefined>;
}

export function storeGauges(pool: pg.Pool, watch?: { tenants: Map<string, TenantConfig>; timeZone: string }): StoreGauges {
  return {
    ...(watch && {
      async lateWatch() {
        if (allConnectionsInUse(pool)) return undefined;
        const list = await tenantWatchStatuses(pool, watch.tenants.values(), watch.timeZone, new Date()).catch(() => undefined);
        return list?.map((status) => ({ tenant: status.id, lastFileAt: status.lastFile?.at ?? null, late: status.state?.late ?? false }));
      },
    }),
    async outboxBacklog() {
      if (allConnectionsInUse(pool)) return undefined;
      const result = await pool.query<{ n: string }>('select count(*) as n from outbox where delivered_at is null').catch(() => undefined);
      return result ? Number(result.rows[0]?.n ?? 0) : undefined;
    },
    async failedAlerts() {
      if (allConnectionsInUse(pool)) return undefined;
      const result = await pool
        .query<{ n: number }>('select count(*)::int as n from outbox where failed_at is not null and delivered_at is null')
        .catch(() => undefined);
      return result?.rows[0]?.n;
    },
    async lastSuccess() {
      if (allConnectionsInUse(pool)) return undefined;
      const result = await pool
        .query<{ tenant_id: string; at: Date }>(
          `select tenant_id, max(coalesce(finished_at, created_at)) as at from runs
           where status = 'accepted' and source <> 'baseline' group by tenant_id`,
        )
        .catch(() => undefined);
      return result?.rows.map((row) => ({ tenant: row.tenant_id, at: new Date(row.at) }));
    },
  };
}
