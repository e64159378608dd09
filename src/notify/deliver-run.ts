import type { AppConfig } from '../config/app.js';
import type { TenantConfig } from '../config/tenant.js';
import type { Logger } from '../log.js';
import type { Database } from '../store/db.js';
import { deliveryContext } from './create.js';
import { deliverPending } from './delivery.js';
import { runAlerts } from './status.js';

/**
 * Delivers the undelivered alerts of one run now, through the outbox (same claim, lease, retry and
 * failure rules as the service's loop): `hris-ingest ingest` run by hand shows its alert in the channel
 * before it exits. Returns one line for the operator (null when there was nothing to send). An alert that
 * does not go out stays in the outbox for the service or `hris-ingest notify deliver`.
 */
export async function deliverRunAlerts(
  app: AppConfig,
  parts: { db: Database; tenants: Map<string, TenantConfig>; logger: Logger },
  runId: number,
): Promise<string | null> {
  const waiting = (await runAlerts(parts.db.pool, runId)).filter((alert) => alert.state === 'pending').map((alert) => alert.id);
  if (waiting.length === 0) return null;
  try {
    await deliverPending(deliveryContext(app, parts), { only: waiting });
  } catch (error) {
    // The database or the render failed: the alert is still queued.
    parts.logger.warn({ runId, err: (error as Error).message }, 'alert not delivered by the CLI');
  }
  const after = (await runAlerts(parts.db.pool, runId)).filter((alert) => waiting.includes(alert.id));
  const lines = after.map((alert) => {
    switch (alert.state) {
      case 'delivered':
        return `alert ${alert.id}: posted to Slack${alert.shortForm ? ` in its short form (Slack refused the full alert: ${alert.shortForm})` : ''}`;
      case 'failed':
        return `alert ${alert.id}: NOT delivered, failed for good: ${alert.error ?? ''}; fix the cause, then: hris-ingest notify retry ${alert.id}`;
      case 'pending':
        return (
          `alert ${alert.id}: not delivered yet${alert.error ? ` (${alert.error})` : ' (taken by a running service, or behind an earlier alert of the run)'}; it stays in the outbox: ` +
          'the running service sends it, or run: hris-ingest notify deliver'
        );
    }
  });
  return lines.join('\n');
}
