import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';
import { ErrorCode, LogLevel, WebClient, type Logger as SlackLogger } from '@slack/web-api';
import type { Logger } from '../log.js';
import { NotifyError, postAndAttach, type AlertFile, type FailureKind, type AlertMessage, type Notifier, type PostedMessage } from './notifier.js';

export interface SlackNotifierOptions {
  token: string;
  /** Default channel: an id (C0123ABCD) or a name (#monitoring-hris-files). */
  channel: string;
  /** Web API base URL (SLACK_API_URL); default https://slack.com/api/. */
  apiUrl?: string;
  logger: Logger;
  /** Per-request timeout. */
  timeoutMs?: number;
}

const CHANNEL_ID = /^[CGD][A-Z0-9]{6,}$/;

/**
 * Slack through the official Web API client. The client's own retries are off: the outbox owns retrying,
 * and a client that sleeps through a 429 inside one delivery would hold the outbox lease and hide the
 * Retry-After from it.
 *
 * Files use the upload flow behind `files.uploadV2` (files.getUploadURLExternal, a POST of the bytes to
 * the returned URL, files.completeUploadExternal): we make the same three calls ourselves so each file is
 * streamed from disk; the client's uploadV2 reads every file into memory first.
 */
export class SlackNotifier implements Notifier {
  readonly name = 'slack' as const;
  readonly client: WebClient;
  private readonly channelIds = new Map<string, string>();
  private botName: string | undefined;

  constructor(private readonly options: SlackNotifierOptions) {
    this.client = new WebClient(options.token, {
      slackApiUrl: options.apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: options.timeoutMs ?? 30_000,
      logger: slackLogger(options.logger),
    });
  }

  /** auth.test: who the token is (for `notify test` and `config check`). */
  async check(): Promise<{ team: string; user: string; url: string }> {
    try {
      const result = await this.client.auth.test();
      if (result.user) this.botName = result.user;
      return { team: result.team ?? '', user: result.user ?? '', url: result.url ?? '' };
    } catch (error) {
      throw await this.describe(error, undefined);
    }
  }

  /** The channel id of an id or name; a name is looked up once with conversations.list. */
  async resolveChannel(channel: string): Promise<string> {
    const wanted = channel.trim().replace(/^#/, '');
    if (CHANNEL_ID.test(wanted)) return wanted;
    const cached = this.channelIds.get(wanted);
    if (cached) return cached;
    try {
      for await (const page of this.client.paginate('conversations.list', {
        types: 'public_channel,private_channel',
        exclude_archived: true,
        limit: 1000,
      })) {
        const channels = (page as { channels?: Array<{ id?: string; name?: string }> }).channels ?? [];
        for (const found of channels) {
          if (found.id && found.name) this.channelIds.set(found.name, found.id);
        }
        if (this.channelIds.has(wanted)) break;
      }
    } catch (error) {
      throw await this.describe(error, `#${wanted}`);
    }
    const id = this.channelIds.get(wanted);
    if (!id) {
      throw new NotifyError(
        `Slack channel #${wanted} not found: check SLACK_CHANNEL (or the tenant's slackChannel); ` +
          'a private channel is only listed once the bot is invited to it (or give the channel id, C0123ABCD)',
        { configuration: true },
      );
    }
    return id;
  }

  async post(message: AlertMessage): Promise<PostedMessage> {
    const channelName = message.thread?.channel ?? message.channel ?? this.options.channel;
    const channel = await this.resolveChannel(channelName);
    try {
      const result = await this.client.chat.postMessage({
        channel,
        ...(message.thread ? { thread_ts: message.thread.ts } : {}),
        text: message.text,
        ...(message.blocks.length > 0 ? { blocks: message.blocks } : {}),
        // The top-level text is the notification: shown as written, no formatting from a file name.
        mrkdwn: false,
        unfurl_links: false,
        unfurl_media: false,
      });
      if (!result.ts) throw new NotifyError('Slack accepted the message but returned no ts');
      return { channel: result.channel ?? channel, ts: result.ts };
    } catch (error) {
      throw await this.describe(error, channelName);
    }
  }

  async attach(posted: PostedMessage, files: AlertFile[]): Promise<void> {
    if (files.length === 0) return;
    try {
      const uploaded: Array<{ id: string; title: string }> = [];
      for (const file of files) {
        const { size } = await stat(file.path);
        const target = await this.client.files.getUploadURLExternal({ filename: file.name, length: size });
        if (!target.upload_url || !target.file_id) throw new NotifyError('files.getUploadURLExternal returned no upload_url/file_id');
        await this.uploadBytes(target.upload_url, file.path, size);
        uploaded.push({ id: target.file_id, title: file.name });
      }
      await this.client.files.completeUploadExternal({
        files: uploaded as [{ id: string; title: string }, ...Array<{ id: string; title: string }>],
        channel_id: posted.channel,
        thread_ts: posted.ts,
      });
    } catch (error) {
      throw await this.describe(error, posted.channel);
    }
  }

  send(message: AlertMessage, files: AlertFile[]): Promise<{ ref: string }> {
    return postAndAttach(this, message, files);
  }

  /** POSTs the raw bytes of FILE to Slack's upload URL, streamed (bounded memory for big files). */
  private async uploadBytes(url: string, file: string, size: number): Promise<void> {
    const target = new URL(url);
    const transport = target.protocol === 'https:' ? https : http;
    await new Promise<void>((resolve, reject) => {
      const request = transport.request(
        target,
        {
          method: 'POST',
          headers: {
            'Content-Type': 'application/octet-stream',
            'Content-Length': String(size),
            Authorization: `Bearer ${this.options.token}`,
          },
          timeout: this.options.timeoutMs ?? 30_000,
        },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            if (body.length < 500) body += chunk;
          });
          response.on('end', () => {
            if (response.statusCode === 200) resolve();
            else {
              // 413: the file is over Slack's size limit, no retry changes that. Anything else: retried
              // (each attempt asks for a new upload URL).
              const tooLarge = response.statusCode === 413;
              const error = new NotifyError(
                tooLarge
                  ? `Slack refused the file ${file.split('/').pop() ?? ''} as too large (HTTP 413, ${size} bytes)`
                  : `Slack file upload failed: HTTP ${response.statusCode} ${body.slice(0, 200)}`,
                { retryAfterMs: retryAfterHeader(response.headers['retry-after']), kind: tooLarge ? 'permanent' : 'transient', code: `http_${response.statusCode}` },
              );
              reject(error);
            }
          });
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error('file upload timed out')));
      request.on('error', reject);
      pipeline(createReadStream(file), request).catch(reject);
    });
  }

  /** A Slack failure as an error that says what to do. */
  private async describe(error: unknown, channel: string | undefined): Promise<NotifyError> {
    if (error instanceof NotifyError) return error;
    const coded = error as { code?: string; data?: { error?: string; needed?: string }; retryAfter?: number; statusCode?: number; original?: Error };
    const where = this.options.apiUrl ?? 'https://slack.com/api/';
    switch (coded.code) {
      case ErrorCode.RateLimitedError:
        return new NotifyError(`Slack rate limit: retry after ${coded.retryAfter}s`, { retryAfterMs: (coded.retryAfter ?? 1) * 1000, code: 'http_429', cause: error });
      case ErrorCode.HTTPError: {
        // 5xx and 408 are outages; another 4xx (413: a request over Slack's size limit) repeats the same way.
        const status = coded.statusCode ?? 0;
        const transient = status >= 500 || status === 408 || status === 429;
        return new NotifyError(`Slack answered HTTP ${status}${transient ? '; will retry' : ''}`, {
          kind: transient ? 'transient' : 'permanent',
          code: `http_${status}`,
          cause: error,
        });
      }
      case ErrorCode.RequestError:
        // No connection, a reset, or the client's timeout.
        return new NotifyError(`cannot reach Slack at ${where}: ${coded.original?.message ?? (error as Error).message}`, { cause: error });
      case ErrorCode.PlatformError:
        return this.platformError(coded.data?.error ?? 'unknown_error', coded.data?.needed, channel, error);
      default:
        return new NotifyError(`Slack call failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
  }

  private async platformError(code: string, needed: string | undefined, channel: string | undefined, cause: unknown): Promise<NotifyError> {
    const kind = platformErrorKind(code);
    if (kind !== 'permanent' || !CONFIGURATION_CODES.has(code)) {
      const what =
        kind === 'content'
          ? `Slack refused the message for its content (${code})`
          : code === 'file_too_large' || code === 'file_uploads_exceed_max_size'
            ? `Slack refused a file as over its size limit (${code})`
            : `Slack refused the call: ${code}`;
      return new NotifyError(what, { kind, code, cause });
    }
    switch (code) {
      case 'invalid_auth':
      case 'not_authed':
      case 'account_inactive':
      case 'token_revoked':
      case 'token_expired':
        return new NotifyError(
          `Slack rejected the bot token (${code}): set SLACK_BOT_TOKEN to the app's Bot User OAuth Token (xoxb-...) and check the app is still installed`,
          { configuration: true, code, cause },
        );
      case 'not_in_channel': {
        const bot = await this.botUserName();
        return new NotifyError(
          `the Slack bot is not a member of ${channel ?? 'the channel'} (not_in_channel): invite it by typing "/invite @${bot}" in that channel`,
          { configuration: true, code, cause },
        );
      }
      case 'channel_not_found':
        return new NotifyError(
          `Slack channel ${channel ?? ''} not found (channel_not_found): check SLACK_CHANNEL or the tenant's slackChannel; for a private channel, invite the bot first`,
          { configuration: true, code, cause },
        );
      case 'is_archived':
        return new NotifyError(`Slack channel ${channel ?? ''} is archived (is_archived): unarchive it or configure another channel`, { configuration: true, code, cause });
      case 'missing_scope':
        return new NotifyError(
          `the Slack app lacks the scope ${needed ?? '(see docs/slack.md)'} (missing_scope): add it under OAuth & Permissions, reinstall the app and update SLACK_BOT_TOKEN`,
          { configuration: true, code, cause },
        );
      default:
        return new NotifyError(`Slack refused the call: ${code}`, { configuration: true, code, cause });
    }
  }

  /** The bot's user name for the /invite hint (auth.test, once); a placeholder when it cannot be had. */
  private async botUserName(): Promise<string> {
    if (this.botName) return this.botName;
    try {
      const result = await this.client.auth.test();
      this.botName = result.user ?? undefined;
    } catch {
      // The hint stays generic.
    }
    return this.botName ?? 'your-bot';
  }
}

/** Slack platform errors (HTTP 200, ok:false) that are about this message's content: sent once more, minimal. */
const CONTENT_CODES = new Set(['msg_too_long', 'invalid_blocks', 'invalid_blocks_format', 'no_text', 'too_many_attachments', 'invalid_attachments']);
/** Slack's own trouble, reported as a platform error: retried like an HTTP 5xx. */
const TRANSIENT_CODES = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited', 'team_added_to_org']);
/** Permanent errors an operator fixes in the set-up (they get a hint and an error-level log). */
const CONFIGURATION_CODES = new Set([
  'invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired',
  'not_in_channel', 'channel_not_found', 'is_archived', 'missing_scope',
]);

/** Every other platform error (file_too_large, invalid_arguments, an unknown code) is permanent: retrying sends the same request. */
export function platformErrorKind(code: string): FailureKind {
  if (CONTENT_CODES.has(code)) return 'content';
  if (TRANSIENT_CODES.has(code)) return 'transient';
  return 'permanent';
}

function retryAfterHeader(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  const seconds = text ? Number.parseInt(text, 10) : Number.NaN;
  return Number.isNaN(seconds) ? undefined : seconds * 1000;
}

/**
 * The client's logs through ours, info and above only: its debug lines carry request bodies (our
 * messages hold no member data, but nothing is gained by logging them).
 */
function slackLogger(logger: Logger): SlackLogger {
  const child = logger.child({ component: 'slack-web-api' });
  const join = (parts: unknown[]) => parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join(' ');
  let level = LogLevel.INFO;
  return {
    debug: () => undefined,
    info: (...parts: unknown[]) => child.info(join(parts)),
    warn: (...parts: unknown[]) => child.warn(join(parts)),
    error: (...parts: unknown[]) => child.error(join(parts)),
    setLevel: (next: LogLevel) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
