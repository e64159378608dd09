/**
 * Alerts built from hostile input, sent through the real @slack/web-api client to the fake Slack (which
 * enforces Slack's limits and renders its markup): a 20,000-column header, mentions, links and mrkdwn in
 * file names, tenant names and values.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tenantConfigSchema, type TenantConfig } from '../src/config/tenant.js';
import { silentLogger } from '../src/log.js';
import { deliverPending, type DeliveryContext } from '../src/notify/delivery.js';
import { maskError } from '../src/text/mask.js';
import { SlackNotifier } from '../src/notify/slack.js';
import { approveRun, ingestFile, type FileInput } from '../src/pipeline.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { liveMarkup, SLACK_LIMITS, startFakeSlack, type FakeSlack } from './support/fake-slack.js';

let db: TestDatabase;
let slack: FakeSlack;
let work: string;

beforeEach(async () => {
  db = await freshDatabase();
  slack = await startFakeSlack();
  work = await mkdtemp(path.join(os.tmpdir(), 'notify-hostile-'));
});
afterEach(async () => {
  await slack.close();
  await db.dispose();
  await rm(work, { recursive: true, force: true });
});

const file = (name: string, text: string): FileInput => ({ name, open: () => Readable.from([Buffer.from(text, 'utf8')]) });
const tenant = (id = 'acme', overrides: Record<string, unknown> = {}): TenantConfig => tenantConfigSchema.parse({ id, name: id, ...overrides });

function context(tenants: TenantConfig[] = [tenant()]): DeliveryContext {
  return {
    db,
    notifier: new SlackNotifier({ token: slack.token, channel: '#monitoring-hris-files', apiUrl: slack.url, logger: silentLogger }),
    tenants: new Map(tenants.map((t) => [t.id, t])),
    logger: silentLogger,
    workDir: work,
  };
}

async function outboxRows() {
  return (await db.pool.query<{ id: number; delivered_at: Date | null; last_error: string | null; attempts: number }>(
    'select id::int as id, delivered_at, last_error, attempts from outbox order by id',
  )).rows;
}

/** Every text object of a posted message, with its kind. */
function textObjects(blocks: unknown[]): Array<{ type: string; text: string }> {
  const found: Array<{ type: string; text: string }> = [];
  for (const block of blocks as Array<Record<string, unknown>>) {
    for (const object of [block.text, ...((block.fields as unknown[]) ?? []), ...((block.elements as unknown[]) ?? [])]) {
      if (object && typeof object === 'object') found.push(object as { type: string; text: string });
    }
  }
  return found;
}

describe('a 20,000-column header', () => {
  it('is rejected and its alert fits Slack: delivered on the first attempt, the header list cut with "... and N more"', async () => {
    const header = Array.from({ length: 20_000 }, (_, i) => `Column Number ${i + 1}`).join(',');
    const run = await ingestFile({ db }, tenant(), file('acme - 01.13.2023.csv', `${header}\n${'x,'.repeat(19_999)}x\n`));
    expect(run.status).toBe('rejected');

    const report = await deliverPending(context());
    const rows = await outboxRows();
    expect(slack.calls('chat.postMessage').map((c) => c.error)).toEqual([undefined]);
    expect(report.delivered).toBe(1);
    expect(rows[0]!.delivered_at).not.toBeNull();
    expect(rows[0]!.attempts).toBe(1);

    const [message] = slack.messages;
    // The notification text is short (far under the 40,000 limit), the blocks within theirs.
    expect(message!.text.length).toBeLessThanOrEqual(1_000);
    expect(message!.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    for (const object of textObjects(message!.blocks)) expect(object.text.length).toBeLessThanOrEqual(SLACK_LIMITS.section);
    // The stored error itself is bounded where it is made.
    const stored = (await db.pool.query<{ message: string }>('select message from run_errors where run_id = $1', [run.runId])).rows;
    expect(stored[0]!.message.length).toBeLessThanOrEqual(2_000);
    expect(stored[0]!.message).toMatch(/ and 19,\d{3} more$/);
  });
});

const HEADER = 'First Name,Last Name,Email Address,Unique ID,Status,City';
const members = (from: number, to: number, city = 'Paris') =>
  Array.from({ length: to - from + 1 }, (_, i) => `First${from + i},Last${from + i},member.${from + i}@example.com,E${from + i},active,${city}`);
const csv = (lines: string[], header = HEADER) => `${[header, ...lines].join('\n')}\n`;

/** Markup Slack renders live in a posted message that our templates did not put there. */
const OUR_BOLD = new Set(['File:', 'Rows:', 'Errors:', 'Changes', 'Invites:', 'Updates:', 'Deactivations:', 'Reactivations:', 'Deletions:', 'Unchanged:', 'What the customer must fix:', 'To apply it:', 'To discard it:']);
function foreignMarkup(message: (typeof slack.messages)[number]) {
  return liveMarkup(message).filter((m) => m.kind !== 'code' && !(m.kind === 'bold' && OUR_BOLD.has(m.content)));
}
const decode = (text: string) => text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

const HOSTILE = '<!channel> <!here> <@U123> <http://x|y> *bold* _it_ ~s~ `code`';

describe('customer text sent to Slack is escaped in every field', () => {
  it('a file name with mentions, links and mrkdwn: nothing live in the text or the blocks, the name still readable', async () => {
    const name = `${HOSTILE} - 01.13.2023.csv`;
    const hostileTenant = tenant('x-_it_');
    const run = await ingestFile({ db }, hostileTenant, file(name, csv(members(1, 5))));
    expect(run.status).toBe('accepted');
    await deliverPending(context([hostileTenant]));
    expect(slack.messages).toHaveLength(1);
    const [message] = slack.messages;
    expect(message!.mrkdwn).toBe(false);
    expect(foreignMarkup(message!)).toEqual([]);
    // Readable: the name is in the text (entities decode to it) and shown literally as inline code in the blocks.
    expect(decode(message!.text)).toContain(name.replace(/`/g, '`'));
    const codeSpans = liveMarkup(message!).filter((m) => m.kind === 'code').map((m) => decode(m.content));
    expect(codeSpans).toContain(name.replace(/`/g, "'"));
    expect(codeSpans).toContain('x-_it_');
    // Sanity: the same text unescaped would be live (the check can fail).
    expect(liveMarkup({ text: name, blocks: [], mrkdwn: true }).map((m) => m.kind).sort()).toEqual(
      ['bold', 'code', 'italic', 'link', 'mention', 'mention', 'mention', 'strike'],
    );
  });

  it('header names and values in a rejected file: the errors quote them in plain_text, nothing live', async () => {
    const header = `${HOSTILE},<!subteam^S1>,First Name`;
    const run = await ingestFile({ db }, tenant(), file('acme - 01.13.2023.csv', csv(['a,b,c'], header)));
    expect(run.status).toBe('rejected');
    const valueRun = await ingestFile({ db }, tenant(), file('acme - 01.14.2023.csv', csv([...members(1, 2), 'F3,L3,<!here>*b*@x,E3,active,Paris'])));
    expect(valueRun.status).toBe('rejected');
    await deliverPending(context());
    expect(slack.messages).toHaveLength(2);
    for (const message of slack.messages) {
      expect(foreignMarkup(message)).toEqual([]);
      expect(message.text).not.toMatch(/<[!@]/);
    }
    // The header texts are not quoted in Slack (a file without its header row has member data there):
    // the error is there, in plain_text, with the texts masked.
    const plain = textObjects(slack.messages[0]!.blocks).filter((o) => o.type === 'plain_text').map((o) => o.text).join('\n');
    expect(plain).toContain('missing required columns last_name ("Last Name"), email ("Email Address"); the header row has: "…", "…", "…"');
    for (const message of slack.messages) {
      expect(JSON.stringify(message)).not.toContain('<!channel>');
      expect(JSON.stringify(message)).not.toContain('*bold*');
      expect(JSON.stringify(message)).not.toContain('<!here>*b*@x');
    }
  });

  it('a file without its header row whose cells hold quotes: every cell stays masked in the alert and in what a viewer sees', async () => {
    // The first row is a member's: one quote in a cell (O"Neil) and two (William "Bill") used to pair the
    // masking's quotes wrongly and leave the cells after them in the clear.
    const firstRow = 'Mary,"O""Neil",Engineering,Denver,"William ""Bill""",Johnson';
    const run = await ingestFile({ db }, tenant(), file('acme - 01.13.2023.csv', `${firstRow}\nAnn,Lee,Sales,Austin,Will,Smith\n`));
    expect(run.status).toBe('rejected');
    expect(run.reasons.join(' ')).toContain('"O\u201DNeil"'); // the operator's own view keeps the text, its quote shown as ”
    // the console shows a viewer the reasons through maskError (src/web/run-page.ts)
    const viewer = run.reasons.map((message) => maskError({ line: null, value: '', message })).join('\n');
    await deliverPending(context());
    expect(slack.messages).toHaveLength(1);
    const sent = JSON.stringify(slack.messages[0]) + viewer;
    for (const cell of ['Mary', 'Neil', 'Engineering', 'Denver', 'Bill', 'Johnson']) expect(sent).not.toContain(cell);
    expect(sent).toContain('the header row has: \\"…\\", \\"…\\", \\"…\\", \\"…\\", \\"…\\", \\"…\\"');
  });

  it('an operator note (approved by ...) with markup: nothing live', async () => {
    const t = tenant();
    await ingestFile({ db }, t, file('acme - 01.13.2023.csv', csv(members(1, 100))));
    const held = await ingestFile({ db }, t, file('acme - 01.14.2023.csv', csv(members(1, 60))));
    expect(held.status).toBe('held');
    await approveRun({ db }, new Map([[t.id, t]]), held.runId!, `<!channel> *ops* _x_`, { outDir: work });
    await deliverPending(context([t]));
    expect(slack.messages.map((m) => m.text.split(':')[1]!.trim().split(' ')[0])).toEqual(['accepted', 'held', 'accepted']);
    for (const message of slack.messages) expect(foreignMarkup(message)).toEqual([]);
    expect(decode(slack.messages.at(-1)!.text)).toContain('approved by <!channel> *ops* _x_');
  });
});
