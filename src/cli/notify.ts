import os from 'node:os';
import type { Command } from 'commander';
import { deliverPending, outboxBacklog } from '../notify/delivery.js';
import { createNotifier, deliveryContext } from '../notify/create.js';
import { testMessage } from '../notify/messages.js';
import { SlackNotifier } from '../notify/slack.js';
import { alertStatuses, requeueAlerts } from '../notify/status.js';
import { cliLogger, EXIT, loadCliContext, positiveInteger, UsageError, withDatabase } from './context.js';
import { deliveryLine } from './summary.js';

/**
 * `hris-ingest notify test [--channel C]`: posts a test message with the configured token and channel
 * (exit 0 when Slack took it, 1 with the reason). `hris-ingest notify deliver`: one delivery pass of the
 * outbox (what the service does every few seconds). `hris-ingest notify retry ALERT_ID|--all-failed`:
 * sends again alerts that failed for good (bot not invited, token revoked...) once the cause is fixed.
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
        else process.stdout.write(`${deliveryLine(report, backlog.pending)}\n`);
        process.exitCode = report.failed > 0 ? EXIT.failure : EXIT.ok;
      });
    });

  notify
    .command('retry')
    .description('send again an alert that failed for good (ALERT_ID, see `runs show`), or every failed one; exit 0 when all were delivered')
    .argument('[alertId]', 'outbox id of the alert', positiveInteger)
    .option('--all-failed', 'every alert marked failed')
    .option('--json', 'print the alerts and their state as JSON')
    .action(async (alertId: number | undefined, options: { allFailed?: boolean; json?: boolean }) => {
      if ((alertId === undefined) === !options.allFailed) throw new UsageError('give one ALERT_ID or --all-failed');
      const cli = await loadCliContext();
      const logger = cliLogger(cli.app);
      await withDatabase(cli.app, async (db) => {
        const ids = await requeueAlerts(db.pool, alertId === undefined ? { allFailed: true } : { ids: [alertId] });
        if (alertId !== undefined && ids.length === 0) {
          const known = await alertStatuses(db.pool, [alertId]);
          throw new UsageError(
            known.length === 0
              ? `no alert ${alertId}`
              : known[0]!.deliveredAt
                ? `alert ${alertId} was already delivered (${known[0]!.deliveredAt})`
                : `alert ${alertId} is being delivered right now; see its state with hris-ingest runs show`,
          );
        }
        if (ids.length > 0) await deliverPending(deliveryContext(cli.app, { db, tenants: cli.tenants, logger }), { only: ids });
        const after = await alertStatuses(db.pool, ids);
        if (options.json) process.stdout.write(`${JSON.stringify({ alerts: after })}\n`);
        else if (after.length === 0) process.stdout.write('no failed alerts\n');
        else {
          for (const alert of after) {
            const note =
              alert.state === 'delivered'
                ? alert.shortForm
                  ? ` (short form: Slack refused the full alert, ${alert.shortForm})`
                  : ''
                : `: ${alert.error ?? 'waits for an earlier alert of its run (see hris-ingest runs show)'}`;
            process.stdout.write(`alert ${alert.id} (${alert.kind}): ${alert.state}${note}\n`);
          }
        }
        process.exitCode = after.every((alert) => alert.state === 'delivered') ? EXIT.ok : EXIT.failure;
      });
    });
}
