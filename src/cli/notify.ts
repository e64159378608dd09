import os from 'node:os';
import type { Command } from 'commander';
import { deliverPending, outboxBacklog } from '../notify/delivery.js';
import { createNotifier, deliveryContext } from '../notify/create.js';
import { testMessage } from '../notify/messages.js';
import { SlackNotifier } from '../notify/slack.js';
import { cliLogger, EXIT, loadCliContext, withDatabase } from './context.js';

/**
 * `hris-ingest notify test [--channel C]`: posts a test message with the configured token and channel
 * (exit 0 when Slack took it, 1 with the reason). `hris-ingest notify deliver`: one delivery pass of the
 * outbox (what the service does every few seconds).
 */
export function register(program: Command): void {
  const notify = program.command('notify').description('Slack alerts: check the set-up, deliver queued alerts');

  notify
    .command('test')
    .description('post a test message to the alert channel (SLACK_BOT_TOKEN, SLACK_CHANNEL); exit 0 on success, 1 otherwise')
    .option('--channel <channel>', 'channel id (C0123ABCD) or name (#monitoring-hris-files) instead of SLACK_CHANNEL')
    .action(async (options: { channel?: string }) => {
      const cli = await loadCliContext();
      const logger = cliLogger(cli.app);
      const notifier = createNotifier(cli.app, logger);
      const message = testMessage({ channel: options.channel, host: os.hostname(), at: new Date() });
      const who = notifier instanceof SlackNotifier ? await notifier.check() : undefined;
      const posted = await notifier.post(message);
      process.stdout.write(
        who
          ? `posted a test message to ${options.channel ?? cli.app.slack.channel} (${posted.channel}) as @${who.user} in ${who.team || 'the workspace'}; ts ${posted.ts}\n`
          : `Slack is not configured (SLACK_BOT_TOKEN is not set): the test alert was written to ${posted.ts}\n`,
      );
      process.exitCode = EXIT.ok;
    });

  notify
    .command('deliver')
    .description('deliver the queued alerts once (exit 0 when none failed, 1 otherwise)')
    .option('--json', 'print the counts as JSON')
    .action(async (options: { json?: boolean }) => {
      const cli = await loadCliContext();
      const logger = cliLogger(cli.app);
      await withDatabase(cli.app, async (db) => {
        const report = await deliverPending(deliveryContext(cli.app, { db, tenants: cli.tenants, logger }));
        const backlog = await outboxBacklog(db.pool);
        if (options.json) process.stdout.write(`${JSON.stringify({ ...report, pending: backlog.pending })}\n`);
        else process.stdout.write(`delivered ${report.delivered}, skipped ${report.skipped}, failed ${report.failed}; ${backlog.pending} pending\n`);
        process.exitCode = report.failed > 0 ? EXIT.failure : EXIT.ok;
      });
    });
}
