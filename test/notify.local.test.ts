import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appConfigSchema } from '../src/config/app.js';
import { tenantConfigSchema } from '../src/config/tenant.js';
import { silentLogger } from '../src/log.js';
import { createNotifier } from '../src/notify/create.js';
import { deliverPending } from '../src/notify/delivery.js';
import { LocalNotifier } from '../src/notify/local.js';
import { SlackNotifier } from '../src/notify/slack.js';
import { renderRunFilesWith } from '../src/output/render.js';
import { ingestFile } from '../src/pipeline.js';
import { freshDatabase, type TestDatabase } from './support/db.js';

const tenant = tenantConfigSchema.parse({ id: 'acme', name: 'Acme' });
const csv = (from: number, to: number) =>
  ['First Name,Last Name,Email Address,Unique ID', ...Array.from({ length: to - from + 1 }, (_, i) => `F${from + i},L${from + i},m${from + i}@example.com,E${from + i}`)].join('\n') + '\n';
const file = (name: string, text: string) => ({ name, open: () => Readable.from([Buffer.from(text)]) });

let db: TestDatabase;
let dataDir: string;
beforeEach(async () => {
  db = await freshDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'notify-local-'));
});
afterEach(async () => {
  await db.dispose();
  await rm(dataDir, { recursive: true, force: true });
});

describe('local notifier (no Slack token)', () => {
  it('createNotifier picks local without a token and Slack with one', () => {
    expect(createNotifier(appConfigSchema.parse({ dataDir }), silentLogger)).toBeInstanceOf(LocalNotifier);
    expect(createNotifier(appConfigSchema.parse({ dataDir, slack: { botToken: 'xoxb-1' } }), silentLogger)).toBeInstanceOf(SlackNotifier);
  });

  it('writes a folder per alert with message.json, message.txt and the run files', async () => {
    await ingestFile({ db }, tenant, file('acme - 01.13.2023.csv', csv(1, 30)));
    const second = await ingestFile({ db }, tenant, file('acme - 02.13.2023.csv', csv(3, 32)));
    const notifier = createNotifier(appConfigSchema.parse({ dataDir }), silentLogger);
    const report = await deliverPending({ db, notifier, tenants: new Map([['acme', tenant]]) });
    expect(report).toEqual({ delivered: 2, failed: 0, failedPermanently: 0, skipped: 0 });

    const alerts = path.join(dataDir, 'alerts');
    expect((await readdir(alerts)).sort()).toEqual([`run-1-accepted`, `run-${second.runId}-accepted`]);
    const folder = path.join(alerts, `run-${second.runId}-accepted`);
    expect((await readdir(folder)).sort()).toEqual([
      'acme 2023-02-13 potential invites.csv',
      'acme 2023-02-13 profile deletions.csv',
      'acme 2023-02-13 profile updates.csv',
      'message.json',
      'message.txt',
    ]);
    const message = JSON.parse(await readFile(path.join(folder, 'message.json'), 'utf8'));
    expect(message.kind).toBe('accepted');
    expect(message.text).toContain('2 invites, 0 updates (0 deactivations, 0 reactivations), 2 deletions');
    expect(await readFile(path.join(folder, 'message.txt'), 'utf8')).toBe(`${message.text}\n`);

    const client = await db.pool.connect();
    const expected = await renderRunFilesWith(client, second.runId!, path.join(dataDir, 'expected')).finally(() => client.release());
    for (const kind of ['invites', 'updates', 'deletions'] as const) {
      const want = await readFile(expected[kind]!.path);
      expect((await readFile(path.join(folder, path.basename(expected[kind]!.path)))).equals(want)).toBe(true);
    }
    const rows = (await db.pool.query('select delivery_ref from outbox order by id')).rows;
    expect(rows[1].delivery_ref).toBe(folder);
  });
});
