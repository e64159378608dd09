/**
 * A fake Slack Web API on 127.0.0.1 (random port) that behaves as Slack does for the calls we make, for
 * the real @slack/web-api client pointed at it with `slackApiUrl`:
 *
 * - POST <url>/<method>, form-encoded (what the client sends) or JSON; `Authorization: Bearer <token>`
 *   is checked (missing: not_authed, wrong: invalid_auth). Errors are HTTP 200 `{ok:false,error}` as Slack's.
 * - auth.test, conversations.list (cursor pagination), chat.postMessage (a known channel id; a channel the
 *   bot is not in gives not_in_channel), files.getUploadURLExternal (an upload URL on this server and a
 *   file id), the upload URL (raw bytes, or multipart as the client's uploadV2 sends them), and
 *   files.completeUploadExternal (a channel_id and ids of uploaded files).
 * - Records every request, and fails on demand: a platform error, HTTP 500, or 429 with Retry-After,
 *   for N requests or while a condition holds.
 * - Enforces Slack's documented message limits (slackMessageError below): text over 40,000 characters is
 *   msg_too_long; over 50 blocks, a header over 150, a section text over 3,000, over 10 fields or a field
 *   over 2,000 is invalid_blocks. A file over `maxFileBytes` is refused at files.getUploadURLExternal.
 * - liveMarkup() reads a posted message as Slack renders it: which mentions, links and mrkdwn formatting
 *   are live (the escaping tests).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeChannel {
  id: string;
  name: string;
  isMember: boolean;
  isPrivate?: boolean;
}

export interface RecordedRequest {
  /** API method ("chat.postMessage"), or "upload" for the upload URL. */
  method: string;
  params: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
  /** The answer: HTTP status and Slack error, if any. */
  status: number;
  error?: string;
}

export interface PostedMessage {
  channel: string;
  ts: string;
  text: string;
  blocks: unknown[];
  threadTs?: string;
  /** chat.postMessage's mrkdwn argument: false = the top-level text is not parsed for formatting. */
  mrkdwn?: boolean;
}

export interface FakeFile {
  id: string;
  filename: string;
  length: number;
  bytes?: Buffer;
  /** How the bytes came: raw body or multipart. */
  encoding?: 'raw' | 'multipart';
  completed: boolean;
  title?: string;
  channel?: string;
  threadTs?: string;
}

export interface FailureRule {
  /** Methods it applies to ("upload" = the upload URL); absent = every request. */
  methods?: string[];
  /** A Slack platform error ({ok:false,error}), e.g. invalid_auth, not_in_channel. */
  error?: string;
  /** An HTTP failure instead: 500, 503, or 429 (with retryAfter). */
  status?: number;
  /** Seconds for the Retry-After header of a 429. */
  retryAfter?: number;
  /** Fail this many matching requests, then stop. */
  times?: number;
  /** Fail while this returns true (e.g. a simulated clock before the end of an outage). */
  while?: () => boolean;
  /**
   * Never answer: the request is neither applied nor answered (held open until close()), as a Slack that
   * hangs past the client's timeout. Recorded with status 0 and error "hang".
   */
  hang?: boolean;
}

/**
 * Called for every API or upload request at two moments: `received` (before any failure rule or effect)
 * and `answering` (the effect is applied, e.g. the message posted, and the answer is about to be written).
 * A test can act there synchronously, e.g. SIGKILL the client process so it never sees the answer.
 */
export type RequestHook = (stage: 'received' | 'answering', request: RecordedRequest) => void;

export interface FakeSlack {
  /** The Web API base URL for SLACK_API_URL / slackApiUrl. */
  url: string;
  token: string;
  channels: FakeChannel[];
  requests: RecordedRequest[];
  messages: PostedMessage[];
  files: Map<string, FakeFile>;
  fail(rule: FailureRule): void;
  clearFailures(): void;
  calls(method: string): RecordedRequest[];
  /** Completed files shared in the thread of message TS. */
  filesInThread(ts: string): FakeFile[];
  close(): Promise<void>;
}

export const DEFAULT_CHANNELS: FakeChannel[] = [
  { id: 'C0HRISFILES', name: 'monitoring-hris-files', isMember: true },
  { id: 'C0GENERAL01', name: 'general', isMember: false },
  { id: 'C0CSMTEAM01', name: 'csm-acme', isMember: true },
];

export async function startFakeSlack(
  options: { token?: string; channels?: FakeChannel[]; pageSize?: number; onRequest?: RequestHook; /** Slack's per-file limit (default 1 GB). */ maxFileBytes?: number } = {},
): Promise<FakeSlack> {
  const token = options.token ?? 'xoxb-fake-token';
  const channels = (options.channels ?? DEFAULT_CHANNELS).map((c) => ({ ...c }));
  const requests: RecordedRequest[] = [];
  const messages: PostedMessage[] = [];
  const files = new Map<string, FakeFile>();
  let rules: Array<FailureRule & { left?: number }> = [];
  let tsCounter = 0;
  let fileCounter = 0;
  let baseUrl = '';

  const channelById = (id: unknown) => channels.find((c) => c.id === id);

  function matchFailure(method: string): (FailureRule & { left?: number }) | undefined {
    for (const rule of rules) {
      if (rule.methods && !rule.methods.includes(method)) continue;
      if (rule.while && !rule.while()) continue;
      if (rule.left !== undefined) {
        if (rule.left <= 0) continue;
        rule.left--;
      }
      return rule;
    }
    return undefined;
  }

  function api(method: string, params: Record<string, unknown>): Record<string, unknown> {
    switch (method) {
      case 'api.test':
        return { ok: true, args: params };
      case 'auth.test':
        return { ok: true, url: 'https://fake-team.slack.com/', team: 'Fake Team', user: 'hris-bot', team_id: 'T0FAKE', user_id: 'U0HRISBOT', bot_id: 'B0HRISBOT' };
      case 'conversations.list': {
        const limit = Number(params.limit ?? options.pageSize ?? 100) || 100;
        const size = Math.min(limit, options.pageSize ?? limit);
        const start = params.cursor ? Number(String(params.cursor).replace('cursor-', '')) : 0;
        const page = channels.slice(start, start + size);
        const next = start + size < channels.length ? `cursor-${start + size}` : '';
        return {
          ok: true,
          channels: page.map((c) => ({ id: c.id, name: c.name, is_channel: true, is_private: c.isPrivate ?? false, is_member: c.isMember, is_archived: false })),
          response_metadata: { next_cursor: next },
        };
      }
      case 'chat.postMessage': {
        const channel = channelById(params.channel);
        if (!channel) return { ok: false, error: 'channel_not_found' };
        if (!channel.isMember) return { ok: false, error: 'not_in_channel' };
        if (!params.text && !params.blocks) return { ok: false, error: 'no_text' };
        const refused = slackMessageError(params);
        if (refused) return { ok: false, error: refused };
        const ts = `1700000000.${String(++tsCounter).padStart(6, '0')}`;
        const blocks = typeof params.blocks === 'string' ? (JSON.parse(params.blocks) as unknown[]) : ((params.blocks as unknown[]) ?? []);
        const message: PostedMessage = { channel: channel.id, ts, text: String(params.text ?? ''), blocks };
        if (params.mrkdwn !== undefined) message.mrkdwn = params.mrkdwn !== false && params.mrkdwn !== 'false';
        if (params.thread_ts) message.threadTs = String(params.thread_ts);
        messages.push(message);
        return { ok: true, channel: channel.id, ts, message: { type: 'message', text: message.text, ts } };
      }
      case 'files.getUploadURLExternal': {
        const length = Number(params.length);
        if (!params.filename || !Number.isInteger(length) || length <= 0) return { ok: false, error: 'invalid_arguments' };
        if (length > (options.maxFileBytes ?? 1024 ** 3)) return { ok: false, error: 'file_too_large' };
        const id = `F0FAKE${String(++fileCounter).padStart(5, '0')}`;
        files.set(id, { id, filename: String(params.filename), length, completed: false });
        return { ok: true, upload_url: `${baseUrl}upload/${id}`, file_id: id };
      }
      case 'files.completeUploadExternal': {
        let list: Array<{ id: string; title?: string }>;
        try {
          list = typeof params.files === 'string' ? JSON.parse(params.files) : (params.files as typeof list);
        } catch {
          return { ok: false, error: 'invalid_arguments' };
        }
        if (!Array.isArray(list) || list.length === 0) return { ok: false, error: 'invalid_arguments' };
        if (!params.channel_id) return { ok: false, error: 'invalid_arguments' };
        const channel = channelById(params.channel_id);
        if (!channel) return { ok: false, error: 'channel_not_found' };
        if (!channel.isMember) return { ok: false, error: 'not_in_channel' };
        for (const item of list) {
          const file = files.get(item.id);
          if (!file || !file.bytes) return { ok: false, error: 'file_not_found' };
          if (file.completed) return { ok: false, error: 'file_already_completed' };
        }
        for (const item of list) {
          const file = files.get(item.id)!;
          file.completed = true;
          file.title = item.title ?? file.filename;
          file.channel = channel.id;
          if (params.thread_ts) file.threadTs = String(params.thread_ts);
        }
        return { ok: true, files: list.map((item) => ({ id: item.id, title: files.get(item.id)!.title })) };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void handle(req, Buffer.concat(chunks), res).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(error));
      });
    });
  });

  async function handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const upload = /^\/upload\/(F\w+)$/.exec(url.pathname);
    const apiMatch = /^\/api\/([\w.]+)$/.exec(url.pathname);
    const method = upload ? 'upload' : (apiMatch?.[1] ?? url.pathname);
    const contentType = String(req.headers['content-type'] ?? '');
    const record: RecordedRequest = { method, params: {}, headers: req.headers, status: 200 };
    requests.push(record);
    const json = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      if (payload && typeof payload === 'object' && (payload as { ok?: boolean }).ok === false) record.error = String((payload as { error?: unknown }).error);
      options.onRequest?.('answering', record);
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(payload));
    };

    if (req.method !== 'POST' || (!upload && !apiMatch)) {
      record.status = 404;
      res.writeHead(404).end();
      return;
    }

    let multipartFile: Buffer | undefined;
    if (upload) {
      if (contentType.startsWith('multipart/form-data')) {
        const form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
        for (const [, value] of form.entries()) {
          if (typeof value !== 'string') {
            multipartFile = Buffer.from(await value.arrayBuffer());
            break;
          }
        }
      }
    } else if (contentType.startsWith('application/json')) {
      record.params = body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
    } else {
      record.params = Object.fromEntries(new URLSearchParams(body.toString('utf8')));
    }

    options.onRequest?.('received', record);
    const failure = matchFailure(method);
    if (failure?.hang) {
      record.status = 0;
      record.error = 'hang';
      return;
    }
    if (failure?.status === 429) {
      json(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(failure.retryAfter ?? 1) });
      return;
    }
    if (failure?.status) {
      record.status = failure.status;
      res.writeHead(failure.status, { 'content-type': 'text/plain' });
      res.end('Internal Server Error');
      return;
    }
    if (failure?.error) {
      json(200, { ok: false, error: failure.error });
      return;
    }

    const auth = req.headers.authorization;
    const bearer = auth?.startsWith('Bearer ') ? auth.slice(7) : (record.params.token as string | undefined);
    if (!bearer) return json(200, { ok: false, error: 'not_authed' });
    if (bearer !== token) return json(200, { ok: false, error: 'invalid_auth' });

    if (upload) {
      const file = files.get(upload[1]!);
      if (!file) {
        record.status = 404;
        res.writeHead(404, { 'content-type': 'text/plain' }).end('unknown upload');
        return;
      }
      file.bytes = multipartFile ?? body;
      file.encoding = multipartFile ? 'multipart' : 'raw';
      record.params = { file: file.id, bytes: file.bytes.length };
      record.status = 200;
      options.onRequest?.('answering', record);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`OK - ${file.bytes.length}`);
      return;
    }
    json(200, api(method, record.params));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://127.0.0.1:${port}/`;

  return {
    url: `${baseUrl}api/`,
    token,
    channels,
    requests,
    messages,
    files,
    fail(rule) {
      rules.push({ ...rule, left: rule.times });
    },
    clearFailures() {
      rules = [];
    },
    calls: (method) => requests.filter((r) => r.method === method),
    filesInThread: (ts) => [...files.values()].filter((f) => f.completed && f.threadTs === ts),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Slack's documented limits (https://api.slack.com/reference/block-kit/blocks, chat.postMessage). */
export const SLACK_LIMITS = { text: 40_000, blocks: 50, header: 150, section: 3_000, fields: 10, field: 2_000, contextElements: 10 } as const;

interface TextObject {
  type?: string;
  text?: unknown;
}

/** The error Slack answers for a chat.postMessage over its limits (msg_too_long, invalid_blocks), or undefined. */
export function slackMessageError(params: Record<string, unknown>): string | undefined {
  if (String(params.text ?? '').length > SLACK_LIMITS.text) return 'msg_too_long';
  if (params.blocks === undefined) return undefined;
  let blocks: unknown;
  try {
    blocks = typeof params.blocks === 'string' ? JSON.parse(params.blocks) : params.blocks;
  } catch {
    return 'invalid_blocks_format';
  }
  if (!Array.isArray(blocks)) return 'invalid_blocks_format';
  if (blocks.length > SLACK_LIMITS.blocks) return 'invalid_blocks';
  const textOk = (object: TextObject | undefined, max: number, types: string[]) =>
    !!object && typeof object.text === 'string' && object.text.length > 0 && object.text.length <= max && types.includes(String(object.type));
  for (const block of blocks as Array<Record<string, unknown>>) {
    switch (block.type) {
      case 'header':
        if (!textOk(block.text as TextObject, SLACK_LIMITS.header, ['plain_text'])) return 'invalid_blocks';
        break;
      case 'section': {
        const fields = block.fields as TextObject[] | undefined;
        if (block.text === undefined && fields === undefined) return 'invalid_blocks';
        if (block.text !== undefined && !textOk(block.text as TextObject, SLACK_LIMITS.section, ['plain_text', 'mrkdwn'])) return 'invalid_blocks';
        if (fields !== undefined) {
          if (!Array.isArray(fields) || fields.length === 0 || fields.length > SLACK_LIMITS.fields) return 'invalid_blocks';
          if (!fields.every((field) => textOk(field, SLACK_LIMITS.field, ['plain_text', 'mrkdwn']))) return 'invalid_blocks';
        }
        break;
      }
      case 'context': {
        const elements = block.elements as TextObject[] | undefined;
        if (!Array.isArray(elements) || elements.length === 0 || elements.length > SLACK_LIMITS.contextElements) return 'invalid_blocks';
        if (!elements.every((element) => textOk(element, SLACK_LIMITS.section, ['plain_text', 'mrkdwn']))) return 'invalid_blocks';
        break;
      }
      case 'divider':
        break;
      default:
        return 'invalid_blocks';
    }
  }
  return undefined;
}

export interface LiveMarkup {
  /** Where: "text" (top level) or "blocks[2].text", "blocks[3].fields[0]"... */
  where: string;
  kind: 'mention' | 'link' | 'bold' | 'italic' | 'strike' | 'code';
  /** What Slack would render: the mention (<!channel>), the link, or the formatted words. */
  content: string;
}

/**
 * What Slack renders live in a posted message: control sequences (<!channel>, <!here>, <@U123>,
 * <http://x|y>) in any mrkdwn text or the top-level text, and *bold*, _italic_, ~strike~, `code` in mrkdwn
 * texts (and the top-level text unless it was posted with mrkdwn: false). plain_text objects render
 * nothing. Entities (&lt; &gt; &amp;) are text, not markup.
 */
export function liveMarkup(message: Pick<PostedMessage, 'text' | 'blocks' | 'mrkdwn'>): LiveMarkup[] {
  const found: LiveMarkup[] = [];
  scanMarkup(message.text, 'text', message.mrkdwn !== false, found);
  (message.blocks as Array<Record<string, unknown>>).forEach((block, i) => {
    const objects: Array<[string, TextObject | undefined]> = [[`blocks[${i}].text`, block.text as TextObject | undefined]];
    ((block.fields as TextObject[] | undefined) ?? []).forEach((field, j) => objects.push([`blocks[${i}].fields[${j}]`, field]));
    ((block.elements as TextObject[] | undefined) ?? []).forEach((element, j) => objects.push([`blocks[${i}].elements[${j}]`, element]));
    for (const [where, object] of objects) {
      if (object && object.type === 'mrkdwn' && typeof object.text === 'string') scanMarkup(object.text, where, true, found);
    }
  });
  return found;
}

function scanMarkup(text: string, where: string, formatting: boolean, found: LiveMarkup[]): void {
  for (const match of text.matchAll(/<([^<>]*)>/g)) {
    const inner = match[1]!;
    const kind = /^(!|@|#)/.test(inner) ? 'mention' : 'link';
    found.push({ where, kind, content: match[0] });
  }
  if (!formatting) return;
  // Code spans first: nothing inside them is formatted.
  const outside = text.replace(/`([^`\n]+)`/g, (_, inner: string) => {
    found.push({ where, kind: 'code', content: inner });
    return ' ';
  });
  const marks: Array<[string, LiveMarkup['kind']]> = [['*', 'bold'], ['_', 'italic'], ['~', 'strike']];
  for (const [mark, kind] of marks) {
    const m = `\\${mark}`;
    // Slack's rule: the mark opens after a start, a space or punctuation, hugs non-space text, and closes before an end, space or punctuation.
    const pattern = new RegExp(`(?:^|(?<=[\\s(\\[{"'.,;:!?-]))${m}(?=\\S)([^\\n]*?\\S)${m}(?=$|[\\s)\\]}"'.,;:!?-])`, 'g');
    for (const match of outside.matchAll(pattern)) found.push({ where, kind, content: match[1]! });
  }
}
