import type { AlertStatus } from '../notify/status.js';
import { cut } from '../text/bounded.js';

/** `runs show`: one line per alert of the run; a failed one says why and how to send it again. */
export function formatAlertLines(alerts: AlertStatus[]): string[] {
  return alerts.map((alert) => {
    const short = alert.shortForm ? ` in its short form (Slack refused the full alert: ${alert.shortForm})` : '';
    switch (alert.state) {
      case 'delivered':
        return `  alert ${alert.id}: delivered${short} at ${alert.deliveredAt}`;
      case 'pending':
        return `  alert ${alert.id}: pending (attempt ${alert.attempts})${alert.error ? `, last error: ${cut(alert.error, 300)}` : ''}`;
      case 'failed':
        return `  alert ${alert.id}: FAILED (not retried): ${cut(alert.error ?? '', 300)}; once fixed: hris-ingest notify retry ${alert.id}`;
    }
  });
}
