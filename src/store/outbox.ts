import type { Queryable } from './db.js';

export type AlertKind =
  | 'run'
  | 'file_too_large'
  | 'drop_unreachable'
  | 'drop_recovered'
  | 'late_file'
  | 'pgp_key'
  | 'test'
  // src/store/supersede.ts; src/config/problems.ts
  | 'run_superseded'
  | 'config_problem';

/**
 * Records an alert to deliver. Call it inside the transaction that stores the run, so the alert
 * exists exactly when the run does. The delivery loop (src/notify/delivery.ts) sends it.
 *
 * A run alert also records the run's status at this moment (payload.status): a held run gets one alert
 * when it is held and another when it is approved or rejected, and the first must still say "held" if
 * it is delivered after the decision.
 */
export async function enqueueAlert(
  db: Queryable,
  alert: { kind: AlertKind; tenantId?: string; runId?: number; payload?: Record<string, unknown> },
): Promise<number> {
  const result = await db.query<{ id: string }>(
    `insert into outbox (kind, tenant_id, run_id, payload)
     values ($1, $2, $3::bigint, $4::jsonb || coalesce(
       (select jsonb_build_object('status', status) from runs where id = $3::bigint), '{}'::jsonb))
     returning id`,
    [alert.kind, alert.tenantId ?? null, alert.runId ?? null, JSON.stringify(alert.payload ?? {})],
  );
  return Number(result.rows[0]!.id);
}
