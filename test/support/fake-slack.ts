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
  options: { token?: string; channels?: FakeChannel[]; pageSize?: number; onRequest?: RequestHook } = {},
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
        const ts = `1700000000.${String(++tsCounter).padStart(6, '0')}`;
        const blocks = typeof params.blocks === 'string' ? (JSON.parse(params.blocks) as unknown[]) : ((params.blocks as unknown[]) ?? []);
        const message: PostedMessage = { channel: channel.id, ts, text: String(params.text ?? ''), blocks };
        if (params.thread_ts) message.threadTs = String(params.thread_ts);
        messages.push(message);
        return { ok: true, channel: channel.id, ts, message: { type: 'message', text: message.text, ts } };
      }
      case 'files.getUploadURLExternal': {
        const length = Number(params.length);
        if (!params.filename || !Number.isInteger(length) || length <= 0) return { ok: false, error: 'invalid_arguments' };
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
