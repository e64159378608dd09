/** Where alerts go: Slack (src/notify/slack.ts) or, without a token, a local folder (src/notify/local.ts). */

/** A Block Kit block (only the fields we build). */
export type Block =
  | { type: 'header'; text: { type: 'plain_text'; text: string } }
  | { type: 'section'; text: { type: 'mrkdwn'; text: string }; fields?: Array<{ type: 'mrkdwn'; text: string }> }
  | { type: 'context'; elements: Array<{ type: 'mrkdwn'; text: string }> }
  | { type: 'divider' };

export type MessageKind =
  | 'accepted'
  | 'rejected'
  | 'held'
  | 'duplicate'
  | 'file_too_large'
  | 'drop_unreachable'
  | 'drop_recovered'
  | 'test'
  // src/notify/engine-messages.ts
  | 'run_superseded'
  | 'config_problem';

export interface AlertMessage {
  kind: MessageKind;
  /** Plain-text fallback (notifications, screen readers, clients without Block Kit). */
  text: string;
  blocks: Block[];
  /** Channel override (tenant.slackChannel, `notify test --channel`); absent = the configured channel. */
  channel?: string;
  tenantId?: string;
  runId?: number;
  /** Outbox id, when the message comes from the outbox. */
  alertId?: number;
  /** Post as a reply in this message's thread (Slack; the local notifier writes a folder as usual). */
  thread?: PostedMessage;
  /** Which of the run's files to attach, in order. */
  attach: Array<'invites' | 'updates' | 'deletions' | 'errors'>;
}

export interface AlertFile {
  /** Name shown in Slack, e.g. "acme 2023-01-13 profile updates.csv". */
  name: string;
  /** Local path of the rendered file. */
  path: string;
}

/** A posted message: where it went and its id (Slack ts, or the local alert folder). */
export interface PostedMessage {
  channel: string;
  ts: string;
}

export interface Notifier {
  readonly name: 'slack' | 'local';
  /** Posts the message (without files). */
  post(message: AlertMessage): Promise<PostedMessage>;
  /** Attaches files to a posted message (Slack: in its thread). */
  attach(posted: PostedMessage, files: AlertFile[], message: AlertMessage): Promise<void>;
  /** Message then files; the reference is the message's ts (or folder). */
  send(message: AlertMessage, files: AlertFile[]): Promise<{ ref: string }>;
}

/**
 * A delivery failure with a message an operator can act on. The outbox retries every failure (a bot
 * invited later, Slack back up); RETRY_AFTER_MS is Slack's Retry-After on 429.
 */
export class NotifyError extends Error {
  override name = 'NotifyError';
  readonly retryAfterMs?: number;
  /** A configuration problem (token, channel, scope) rather than an outage: worth an error-level log. */
  readonly configuration: boolean;
  constructor(message: string, options: { retryAfterMs?: number; configuration?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.retryAfterMs = options.retryAfterMs;
    this.configuration = options.configuration ?? false;
  }
}

/** Post-then-attach, shared by both notifiers. */
export async function postAndAttach(notifier: Notifier, message: AlertMessage, files: AlertFile[]): Promise<{ ref: string }> {
  const posted = await notifier.post(message);
  if (files.length > 0) await notifier.attach(posted, files, message);
  return { ref: posted.ts };
}
