import path from 'node:path';
import type { AppConfig } from '../config/app.js';
import type { TenantConfig } from '../config/tenant.js';
import type { Logger } from '../log.js';
import type { Database } from '../store/db.js';
import type { DeliveryContext } from './delivery.js';
import { LocalNotifier } from './local.js';
import type { Notifier } from './notifier.js';
import { SlackNotifier } from './slack.js';

/** Where the local notifier writes alerts when Slack is not configured. */
export function alertsDir(app: AppConfig): string {
  return path.resolve(app.dataDir, 'alerts');
}

/** Slack when SLACK_BOT_TOKEN is set, else the local folder notifier under <dataDir>/alerts. */
export function createNotifier(app: AppConfig, logger: Logger): Notifier {
  if (app.slack.botToken) {
    return new SlackNotifier({ token: app.slack.botToken, channel: app.slack.channel, apiUrl: app.slack.apiUrl, timeoutMs: app.slack.timeoutMs, logger });
  }
  return new LocalNotifier({ alertsDir: alertsDir(app), logger });
}

/** What alert delivery needs from the configuration: the notifier and the dashboard link. */
export function deliveryContext(app: AppConfig, parts: { db: Database; tenants: Map<string, TenantConfig>; logger: Logger }): DeliveryContext {
  return { ...parts, notifier: createNotifier(app, parts.logger), timeZone: app.schedule.timezone, ...(app.http.dashboardUrl ? { dashboardUrl: app.http.dashboardUrl } : {}) };
}
