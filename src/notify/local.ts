import { terminalText } from '../text/terminal.js';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { postAndAttach, type AlertFile, type AlertMessage, type Notifier, type PostedMessage } from './notifier.js';

/**
 * Without a Slack token: every alert becomes a folder under <dataDir>/alerts/ holding message.json (the
 * Block Kit message), message.txt (the plain text) and the attached files, plus one log line. Nothing
 * waits on a service that is not there.
 *
 * Folder names: run-<run id>-<outcome> for run alerts (a held run that is approved later gets
 * run-12-held and run-12-accepted), alert-<outbox id>-<kind> for the others, test-<time> for `notify test`.
 */
export class LocalNotifier implements Notifier {
  readonly name = 'local' as const;

  constructor(private readonly options: { alertsDir: string; logger: Logger }) {}

  folderFor(message: AlertMessage): string {
    const kind = message.kind.replace(/_/g, '-');
    if (message.runId !== undefined) return path.join(this.options.alertsDir, `run-${message.runId}-${kind}`);
    if (message.alertId !== undefined) return path.join(this.options.alertsDir, `alert-${message.alertId}-${kind}`);
    // Not from the outbox (notify test): named by time.
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').replace('.', '-').replace('Z', '');
    return path.join(this.options.alertsDir, `${kind}-${stamp}`);
  }

  async post(message: AlertMessage): Promise<PostedMessage> {
    const folder = this.folderFor(message);
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, 'message.json'), `${JSON.stringify({ kind: message.kind, text: message.text, blocks: message.blocks, channel: message.channel ?? null }, null, 2)}\n`);
    // message.txt is read by a person: the entities Slack needs (&lt; &gt; &amp;) are decoded back.
    await writeFile(path.join(folder, 'message.txt'), `${message.text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')}\n`);
    this.options.logger.info({ alert: message.kind, tenant: message.tenantId, runId: message.runId, folder }, `alert (Slack not configured): ${terminalText(message.text)}`);
    return { channel: 'local', ts: folder };
  }

  async attach(posted: PostedMessage, files: AlertFile[]): Promise<void> {
    for (const file of files) await copyFile(file.path, path.join(posted.ts, path.basename(file.name)));
  }

  send(message: AlertMessage, files: AlertFile[]): Promise<{ ref: string }> {
    return postAndAttach(this, message, files);
  }
}
