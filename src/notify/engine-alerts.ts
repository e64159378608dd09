/** The outbox kinds of src/notify/engine-messages.ts, built from what is stored (src/notify/delivery.ts dispatches here). */
import type { TenantConfig } from '../config/tenant.js';
import type { Queryable } from '../store/db.js';
import { configProblemMessage, supersededMessage, type ConfigProblemView } from './engine-messages.js';
import type { AlertMessage } from './notifier.js';

export const ENGINE_ALERT_KINDS = ['run_superseded', 'config_problem'] as const;

export function isEngineAlert(kind: string): boolean {
  return (ENGINE_ALERT_KINDS as readonly string[]).includes(kind);
}

/** The message of an engine alert, or null (with why) when there is nothing to post. */
export async function engineAlertMessage(
  db: Queryable,
  tenants: Map<string, TenantConfig>,
  row: { kind: string; run_id: number | null; payload: Record<string, unknown> },
): Promise<{ message: AlertMessage | null; skipReason?: string }> {
  if (row.kind === 'config_problem') return { message: configProblemMessage(row.payload as unknown as ConfigProblemView) };
  if (row.run_id === null) return { message: null, skipReason: 'the run is no longer stored' };
  const run = (
    await db.query<{ tenant_id: string; file_name: string; superseded_by: number | null }>(
      'select tenant_id, file_name, superseded_by::int as superseded_by from runs where id = $1',
      [row.run_id],
    )
  ).rows[0];
  if (!run || run.superseded_by === null) return { message: null, skipReason: 'the run is no longer stored' };
  // The held run's own alert (delivered first: the outbox takes a run's alerts in order).
  const thread = (
    await db.query<{ channel_id: string; message_ts: string }>(
      `select channel_id, message_ts from outbox
       where run_id = $1 and kind = 'run' and message_ts is not null and channel_id is not null and channel_id <> 'local'
       order by id limit 1`,
      [row.run_id],
    )
  ).rows[0];
  return {
    message: supersededMessage({
      runId: row.run_id,
      tenantId: run.tenant_id,
      fileName: run.file_name,
      supersededBy: run.superseded_by,
      ...(thread ? { thread: { channel: thread.channel_id, ts: thread.message_ts } } : {}),
      ...(tenants.get(run.tenant_id)?.slackChannel ? { channel: tenants.get(run.tenant_id)!.slackChannel } : {}),
    }),
  };
}
