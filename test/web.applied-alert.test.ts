import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appConfigSchema } from '../src/config/app.js';
import { silentLogger } from '../src/log.js';
import { createNotifier } from '../src/notify/create.js';
import { deliverPending, loadRunView } from '../src/notify/delivery.js';
import { ingestFile } from '../src/pipeline.js';
import { markApplied } from '../src/store/run-applied.js';
import { csvOf, fileOf, range, tenantOf } from './pipeline.support.js';
import { freshDatabase, type TestDatabase } from './support/db.js';

const tenant = tenantOf();
let db: TestDatabase;
let dataDir: string;
beforeEach(async () => {
  db = await freshDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'applied-alert-'));
});
afterEach(async () => {
  await db.dispose();
  await rm(dataDir, { recursive: true, force: true });
});

async function deliveredText(runId: number): Promise<{ text: string; blocks: string }> {
  const notifier = createNotifier(appConfigSchema.parse({ dataDir }), silentLogger);
  await deliverPending({ db, notifier, tenants: new Map([['acme', tenant]]) });
  const message = JSON.parse(await readFile(path.join(dataDir, 'alerts', `run-${runId}-accepted`, 'message.json'), 'utf8'));
  return { text: message.text, blocks: JSON.stringify(message.blocks) };
}

describe('the alert of a newer run while an older accepted run is not marked applied', () => {
  it('warns, naming the older run', async () => {
    const first = await ingestFile({ db }, tenant, fileOf('acme 01.13.2023.csv', csvOf(range(1, 30))));
    const second = await ingestFile({ db }, tenant, fileOf('acme 02.13.2023.csv', csvOf(range(3, 32))));
    expect((await loadRunView(db.pool, first.runId!))!.view.unappliedEarlier).toEqual({ ids: [], total: 0 });
    expect((await loadRunView(db.pool, second.runId!))!.view.unappliedEarlier).toEqual({ ids: [first.runId], total: 1 });
    const { text, blocks } = await deliveredText(second.runId!);
    expect(text).toContain(`Earlier accepted runs are not marked applied to the platform: run ${first.runId}.`);
    expect(blocks).toContain(`run ${first.runId}`);
    expect(blocks).toContain(':warning:');
  });

  it('names the 5 oldest earlier runs not marked applied, then how many more', async () => {
    const first = await ingestFile({ db }, tenant, fileOf('acme 01.13.2023.csv', csvOf(range(1, 30))));
    await db.pool.query(
      `insert into runs (tenant_id, file_name, sha256, status, key_field, counts)
       select 'acme', 'r' || g || '.csv', 'sha' || g, 'accepted', 'employee_id', '{"updates": 1}'::jsonb from generate_series(1, 30) g`,
    );
    const second = await ingestFile({ db }, tenant, fileOf('acme 02.13.2023.csv', csvOf(range(3, 32))));
    const { text } = await deliveredText(second.runId!);
    const ids = Array.from({ length: 5 }, (_, i) => `run ${first.runId! + i}`).join(', ');
    expect(text).toContain(`Earlier accepted runs are not marked applied to the platform: ${ids}, ... and 26 more. Upload`);
  });

  it('says nothing once the older run is marked applied', async () => {
    const first = await ingestFile({ db }, tenant, fileOf('acme 01.13.2023.csv', csvOf(range(1, 30))));
    await markApplied(db.pool, first.runId!, 'carl');
    const second = await ingestFile({ db }, tenant, fileOf('acme 02.13.2023.csv', csvOf(range(3, 32))));
    const { text, blocks } = await deliveredText(second.runId!);
    expect(text).not.toContain('not marked applied');
    expect(blocks).not.toContain('not marked applied');
  });
});
