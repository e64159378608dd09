import path from 'node:path';
import type { AppConfig } from '../config/app.js';
import type { Logger } from '../log.js';
import { LocalNotifier } from './local.js';
import type { Notifier } from './notifier.js';
import { SlackNotifier } from './slack.js';

/** Slack when SLACK_BOT_TOKEN is set, else the local folder notifier under <dataDir>/alerts. */
export function createNotifier(app: AppConfig, logger: Logger): Notifier {
  if (app.slack.botToken) {
    return new SlackNotifier({ token: app.slack.botToken, channel: app.slack.channel, apiUrl: app.slack.apiUrl, logger });
  }
  return new LocalNotifier({ alertsDir: path.resolve(app.dataDir, 'alerts'), logger });
}
