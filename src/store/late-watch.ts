/**
 * SQL of the late-file watch: the tenant's last file that counts, when a tenant was first watched, the
 * per-window alert claims, and the status of every tenant (the `tenants` command, /metrics, the tick).
 *
 * A file counts as arrived when its run is accepted, a duplicate (the customer sent the same data again)
 * or held (the customer delivered; the decision is ours). Rejected files do not count: the customer still
 * owes a good one. Baseline imports are ours, not the customer's, and do not count either.
 */
import { watchState, type WatchState } from '../config/cadence.js';
import type { TenantConfig } from '../config/tenant.js';
import type { Queryable } from './db.js';

/** The runs that count as a file arriving, as a condition on the runs table under ALIAS. */
const counted = (alias: string) => `${alias}.status in ('accepted', 'duplicate', 'held') and ${alias}.source <> 'baseline'`;

export interface LastFile {
  runId: number;
  name: string;
  at: Date;
}

export interface WatchInputs {
  firstSeenAt: Date | null;
  lastFile: LastFile | null;
}

/** Records NOW as the first-seen time of the tenants not seen before (the watch of a tenant with no file starts there). */
export async function recordFirstSeen(db: Queryable, tenantIds: string[], now: Date): Promise<void> {
  await db.query(
    `insert into late_watch_tenants (tenant_id, first_seen_at) select id, $2 from unnest($1::text[]) as t(id)
     on conflict (tenant_id) do nothing`,
    [tenantIds, now.toISOString()],
  );
}

/**
 * Forgets when the TENANT_IDS (configured, without `expect:`) were first watched: a watch added again later
 * starts then, not from the first time ever (a tenant with no file was late at once, by every window since).
 */
export async function forgetFirstSeen(db: Queryable, tenantIds: string[]): Promise<void> {
  if (tenantIds.length > 0) await db.query('delete from late_watch_tenants where tenant_id = any($1::text[])', [tenantIds]);
}

/** Per tenant: when it was first watched and its last file that counts. */
export async function loadWatchInputs(db: Queryable, tenantIds: string[]): Promise<Map<string, WatchInputs>> {
  const result = await db.query<{ tenant_id: string; first_seen_at: Date | null; run_id: number | null; file_name: string | null; created_at: Date | null }>(
    `select t.id as tenant_id, w.first_seen_at, r.id::int as run_id, r.file_name, r.created_at
     from unnest($1::text[]) as t(id)
     left join late_watch_tenants w on w.tenant_id = t.id
     left join lateral (
       select x.id, x.file_name, x.created_at from runs x where x.tenant_id = t.id and ${counted('x')} order by x.id desc limit 1
     ) r on true`,
    [tenantIds],
  );
  return new Map(
    result.rows.map((row) => [
      row.tenant_id,
      {
        firstSeenAt: row.first_seen_at,
        lastFile: row.run_id !== null ? { runId: row.run_id, name: row.file_name!, at: row.created_at! } : null,
      },
    ]),
  );
}

/** The windows count from the last file, else from when the tenant was first watched (else from NOW). */
export function anchorOf(inputs: WatchInputs | undefined, now: Date): Date {
  return inputs?.lastFile?.at ?? inputs?.firstSeenAt ?? now;
}

export interface TenantWatchStatus {
  id: string;
  name: string;
  /** expect.every, or null when the tenant is not watched. */
  cadence: string | null;
  lastFile: LastFile | null;
  /** Null when the tenant is not watched. */
  state: WatchState | null;
}

/** The watch status of every tenant at NOW (read only). */
export async function tenantWatchStatuses(db: Queryable, tenants: Iterable<TenantConfig>, timeZone: string, now: Date): Promise<TenantWatchStatus[]> {
  const list = [...tenants];
  const inputs = await loadWatchInputs(db, list.map((t) => t.id));
  return list.map((tenant) => {
    const input = inputs.get(tenant.id);
    return {
      id: tenant.id,
      name: tenant.name,
      cadence: tenant.expect?.every ?? null,
      lastFile: input?.lastFile ?? null,
      state: tenant.expect ? watchState(tenant.expect, anchorOf(input, now), now, timeZone) : null,
    };
  });
}

export type LateAlertKind = 'late' | 'still_late';

/**
 * Claims the alert of the missed window due at DUE_AT (number WINDOW_NO) after ANCHOR_AT, inside the
 * caller's transaction: the first alert of an anchor is 'late'; a window due later than any alerted one
 * is 'still_late' when REMIND is on. Null when there is nothing to alert (already alerted, by this or
 * another replica). Concurrent claims meet on the unique keys (one 'late' per anchor, one row per due
 * time): the loser inserts nothing.
 */
export async function claimLateWindow(
  client: Queryable,
  claim: { tenantId: string; anchorAt: Date; windowNo: number; dueAt: Date; remind: boolean },
): Promise<{ id: number; kind: LateAlertKind } | null> {
  // The last alerted window by due time: window numbers restart when the cadence changes (migration 111).
  const prior = await client.query<{ last: Date | null }>(
    'select max(due_at) as last from late_alerts where tenant_id = $1 and anchor_at = $2',
    [claim.tenantId, claim.anchorAt.toISOString()],
  );
  const last = prior.rows[0]?.last ?? null;
  const kind: LateAlertKind | null = last === null ? 'late' : claim.remind && claim.dueAt.getTime() > last.getTime() ? 'still_late' : null;
  if (!kind) return null;
  const inserted = await client.query<{ id: number }>(
    `insert into late_alerts (tenant_id, anchor_at, window_no, due_at, kind) values ($1, $2, $3, $4, $5)
     on conflict do nothing returning id::int as id`,
    [claim.tenantId, claim.anchorAt.toISOString(), claim.windowNo, claim.dueAt.toISOString(), kind],
  );
  const row = inserted.rows[0];
  return row ? { id: row.id, kind } : null;
}

export async function setLateAlertOutbox(client: Queryable, id: number, outboxId: number): Promise<void> {
  await client.query('update late_alerts set outbox_id = $2 where id = $1', [id, outboxId]);
}

/** The drop's reachability as the pollers recorded it (drop_health). */
export interface DropHealthView {
  failures: number;
  failingSince: Date | null;
  lastSuccessAt: Date | null;
  lastError: string | null;
}

export async function readDropHealth(db: Queryable): Promise<DropHealthView | null> {
  const row = (
    await db.query<{ consecutive_failures: number; first_failure_at: Date | null; last_success_at: Date | null; last_error: string | null }>(
      'select consecutive_failures, first_failure_at, last_success_at, last_error from drop_health where id = 1',
    )
  ).rows[0];
  if (!row) return null;
  return { failures: row.consecutive_failures, failingSince: row.first_failure_at, lastSuccessAt: row.last_success_at, lastError: row.last_error };
}

/** Files seen in the tenant's inbox that no poller has taken to an outcome (still changing, or failing). */
export async function filesWaitingInInbox(db: Queryable, tenantId: string): Promise<number> {
  const result = await db.query<{ n: number }>(
    `select count(*)::int as n from drop_observations o
     where o.tenant_id = $1 and not exists (
       select 1 from drop_files f where f.tenant_id = o.tenant_id and f.path = o.path and f.size = o.size and f.mtime = o.mtime and f.state <> 'pending')`,
    [tenantId],
  );
  return result.rows[0]?.n ?? 0;
}

/** When run RUN_ID arrived and what its windows counted from (the previous file that counts, or the first-seen time). */
export async function runArrival(db: Queryable, runId: number): Promise<{ tenantId: string; arrivedAt: Date; anchorAt: Date | null } | null> {
  const row = (
    await db.query<{ tenant_id: string; created_at: Date; previous_at: Date | null; first_seen_at: Date | null }>(
      `select r.tenant_id, r.created_at,
         (select p.created_at from runs p where p.tenant_id = r.tenant_id and p.id < r.id and ${counted('p')}
          order by p.id desc limit 1) as previous_at,
         (select w.first_seen_at from late_watch_tenants w where w.tenant_id = r.tenant_id) as first_seen_at
       from runs r where r.id = $1`,
      [runId],
    )
  ).rows[0];
  if (!row) return null;
  const firstSeen = row.first_seen_at && row.first_seen_at < row.created_at ? row.first_seen_at : null;
  return { tenantId: row.tenant_id, arrivedAt: row.created_at, anchorAt: row.previous_at ?? firstSeen };
}
