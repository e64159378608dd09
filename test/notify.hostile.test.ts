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
import { SlackNotifier } from '../src/notify/slack.js';
import { ingestFile, type FileInput } from '../src/pipeline.js';
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
    expect(stored[0]!.message).toMatch(/\.\.\. and 19,\d{3} more columns/);
  });
});
