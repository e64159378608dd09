import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { testMessage } from '../src/notify/messages.js';
import { NotifyError } from '../src/notify/notifier.js';
import { SlackNotifier } from '../src/notify/slack.js';
import { startFakeSlack, type FakeSlack } from './support/fake-slack.js';

let slack: FakeSlack;
let dir: string;

beforeEach(async () => {
  slack = await startFakeSlack();
  dir = await mkdtemp(path.join(os.tmpdir(), 'notify-slack-'));
});
afterEach(async () => {
  await slack.close();
  await rm(dir, { recursive: true, force: true });
});

function notifier(overrides: { token?: string; channel?: string } = {}): SlackNotifier {
  return new SlackNotifier({ token: overrides.token ?? slack.token, channel: overrides.channel ?? '#monitoring-hris-files', apiUrl: slack.url, logger: silentLogger });
}

async function failure(promise: Promise<unknown>): Promise<NotifyError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(NotifyError);
    return error as NotifyError;
  }
  throw new Error('expected a failure');
}

describe('Slack notifier (real WebClient against the fake Slack)', () => {
  it('posts by channel name (looked up once), then uploads the files into the thread byte for byte', async () => {
    const first = path.join(dir, 'acme 2023-01-13 potential invites.csv');
    const second = path.join(dir, 'acme 2023-01-13 profile updates.csv');
    await writeFile(first, 'email,first_name\r\n"=x@y",Zoë\r\n');
    await writeFile(second, Buffer.concat([Buffer.from('email\n'), Buffer.alloc(300_000, 0x61), Buffer.from('\n')]));
    const slackNotifier = notifier();
    const { ref } = await slackNotifier.send(testMessage({ at: new Date() }), [
      { name: path.basename(first), path: first },
      { name: path.basename(second), path: second },
    ]);
    await slackNotifier.send(testMessage({ at: new Date() }), []);

    expect(slack.calls('conversations.list')).toHaveLength(1);
    expect(slack.calls('chat.postMessage')).toHaveLength(2);
    const post = slack.calls('chat.postMessage')[0]!;
    expect(post.headers.authorization).toBe(`Bearer ${slack.token}`);
    expect(post.params.channel).toBe('C0HRISFILES');
    expect(typeof post.params.text).toBe('string');
    expect(JSON.parse(String(post.params.blocks))[0].type).toBe('section');

    expect(slack.messages[0]!.ts).toBe(ref);
    const files = slack.filesInThread(ref);
    expect(files.map((f) => f.title).sort()).toEqual([path.basename(first), path.basename(second)]);
    for (const file of files) {
      const source = file.title === path.basename(first) ? first : second;
      expect(file.bytes!.equals(await readFile(source))).toBe(true);
      expect(file.length).toBe(file.bytes!.length);
      expect(file.channel).toBe('C0HRISFILES');
    }
    // One completeUploadExternal for both files: they appear together in the thread.
    expect(slack.calls('files.completeUploadExternal')).toHaveLength(1);
    expect(slack.calls('files.upload')).toHaveLength(0);
  });

  it('a channel id is used as is (no look-up)', async () => {
    await notifier({ channel: 'C0CSMTEAM01' }).send(testMessage({ at: new Date() }), []);
    expect(slack.calls('conversations.list')).toHaveLength(0);
    expect(slack.messages[0]!.channel).toBe('C0CSMTEAM01');
  });

  it('finds a channel on a later page of conversations.list', async () => {
    await slack.close();
    slack = await startFakeSlack({ pageSize: 1 });
    await notifier({ channel: '#csm-acme' }).send(testMessage({ at: new Date() }), []);
    expect(slack.calls('conversations.list').length).toBe(3);
    expect(slack.messages[0]!.channel).toBe('C0CSMTEAM01');
  });

  it('invalid_auth: says to fix SLACK_BOT_TOKEN', async () => {
    const error = await failure(notifier({ token: 'xoxb-wrong' }).send(testMessage({ at: new Date() }), []));
    expect(error.message).toContain('invalid_auth');
    expect(error.message).toContain('SLACK_BOT_TOKEN');
    expect(error.configuration).toBe(true);
  });

  it('not_in_channel: says to invite the bot, by its name', async () => {
    const error = await failure(notifier({ channel: '#general' }).send(testMessage({ at: new Date() }), []));
    expect(error.message).toContain('not_in_channel');
    expect(error.message).toContain('/invite @hris-bot');
    expect(error.message).toContain('#general');
  });

  it('an unknown channel name is a clear error', async () => {
    const error = await failure(notifier({ channel: '#nope' }).send(testMessage({ at: new Date() }), []));
    expect(error.message).toContain('#nope not found');
  });

  it('429 surfaces Retry-After; a 500 fails at once (the outbox retries, not the client)', async () => {
    slack.fail({ methods: ['chat.postMessage'], status: 429, retryAfter: 7, times: 1 });
    const limited = await failure(notifier({ channel: 'C0HRISFILES' }).send(testMessage({ at: new Date() }), []));
    expect(limited.retryAfterMs).toBe(7000);

    slack.fail({ methods: ['chat.postMessage'], status: 500, times: 1 });
    const before = slack.calls('chat.postMessage').length;
    const down = await failure(notifier({ channel: 'C0HRISFILES' }).send(testMessage({ at: new Date() }), []));
    expect(down.message).toContain('HTTP 500');
    expect(slack.calls('chat.postMessage').length).toBe(before + 1);
  });

  it('a failed upload reports the HTTP status', async () => {
    const file = path.join(dir, 'f.csv');
    await writeFile(file, 'a\n1\n');
    slack.fail({ methods: ['upload'], status: 503, times: 1 });
    const slackNotifier = notifier({ channel: 'C0HRISFILES' });
    const posted = await slackNotifier.post(testMessage({ at: new Date() }));
    const error = await failure(slackNotifier.attach(posted, [{ name: 'f.csv', path: file }]));
    expect(error.message).toContain('HTTP 503');
    expect(slack.filesInThread(posted.ts)).toHaveLength(0);
  });

  it('the fake also serves the client’s own files.uploadV2 (multipart upload)', async () => {
    const client = new WebClient(slack.token, { slackApiUrl: slack.url, retryConfig: { retries: 0 } });
    const posted = await client.chat.postMessage({ channel: 'C0HRISFILES', text: 'x' });
    const content = Buffer.from('line,one\n1,2\n');
    await client.files.uploadV2({ channel_id: 'C0HRISFILES', thread_ts: posted.ts!, file_uploads: [{ file: content, filename: 'x.csv' }] });
    const [file] = slack.filesInThread(posted.ts!);
    expect(file!.encoding).toBe('multipart');
    expect(file!.bytes!.equals(content)).toBe(true);
  });

  it('auth.test through check()', async () => {
    expect(await notifier().check()).toEqual({ team: 'Fake Team', user: 'hris-bot', url: 'https://fake-team.slack.com/' });
  });
});
