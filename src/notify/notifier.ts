/** Where alerts go: Slack (src/notify/slack.ts) or, without a token, a local folder (src/notify/local.ts). */
import type { AlertKind } from '../store/outbox.js';

/** A Block Kit block (only the fields we build). */
export interface TextObject {
  /** mrkdwn: Slack formatting, mentions and links are live; plain_text: shown as is (customer sentences go here). */
  type: 'mrkdwn' | 'plain_text';
  text: string;
}

export type Block =
  | { type: 'header'; text: { type: 'plain_text'; text: string } }
  | { type: 'section'; text: TextObject; fields?: TextObject[] }
  | { type: 'context'; elements: TextObject[] }
  | { type: 'divider' };

/** A run alert is named by the run's status; every other alert kind as the outbox names it. */
export type MessageKind = 'accepted' | 'rejected' | 'held' | 'duplicate' | Exclude<AlertKind, 'run'>;

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
 * What a failure means for the outbox:
 * - transient: an outage (HTTP 5xx, 429 with Retry-After, a timeout, no connection): retried with backoff;
 * - content: Slack refused this message for what it holds (msg_too_long, invalid_blocks): sent once more
 *   as a minimal plain message, never again as it was;
 * - permanent: the set-up or the request is wrong (token, channel, scope, a file over Slack's size
 *   limit): not retried; the alert is marked failed until `hris-ingest notify retry` once it is fixed.
 */
export type FailureKind = 'transient' | 'content' | 'permanent';

/**
 * A delivery failure with a message an operator can act on. RETRY_AFTER_MS is Slack's Retry-After on 429.
 * Errors that are not NotifyErrors (the database, a local disk) count as transient.
 */
export class NotifyError extends Error {
  override name = 'NotifyError';
  readonly retryAfterMs?: number;
  /** A configuration problem (token, channel, scope) rather than an outage: worth an error-level log. */
  readonly configuration: boolean;
  readonly kind: FailureKind;
  /** Slack's error code (msg_too_long, not_in_channel...) or "http_<status>", when Slack answered. */
  readonly code?: string;
  constructor(message: string, options: { retryAfterMs?: number; configuration?: boolean; kind?: FailureKind; code?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.retryAfterMs = options.retryAfterMs;
    this.configuration = options.configuration ?? false;
    this.kind = options.kind ?? (this.configuration ? 'permanent' : 'transient');
    if (options.code !== undefined) this.code = options.code;
  }
}

/** The failure kind of any error thrown while delivering (anything that is not a NotifyError is transient). */
export function failureKind(error: unknown): FailureKind {
  return error instanceof NotifyError ? error.kind : 'transient';
}

/** Post-then-attach, shared by both notifiers. */
export async function postAndAttach(notifier: Notifier, message: AlertMessage, files: AlertFile[]): Promise<{ ref: string }> {
  const posted = await notifier.post(message);
  if (files.length > 0) await notifier.attach(posted, files, message);
  return { ref: posted.ts };
}
