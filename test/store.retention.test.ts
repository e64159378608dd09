import { access } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ingestFile, purgeOldRuns } from '../src/pipeline.js';
import { countRows, csvOf, fileOf, person, range, tenantOf, useEngine } from './pipeline.support.js';

const exists = (file: string) => access(file).then(() => true, () => false);

describe('retention', () => {
  const engine = useEngine({ outDir: 'engine-retention-' });

  it('purges changes, errors and files of runs older than N days; run rows, held runs and the state stay', async () => {
    const old = await ingestFile(engine.ctx, tenantOf(), fileOf('a 2023-01-01.csv', csvOf(range(1, 40))), { outDir: engine.out });
    const rejected = await ingestFile(engine.ctx, tenantOf(), fileOf('b 2023-01-02.csv', csvOf([person(1, { status: 'x' })])), { outDir: engine.out });
    const held = await ingestFile(engine.ctx, tenantOf(), fileOf('c 2023-01-03.csv', csvOf(range(1, 3))), { outDir: engine.out });
    expect([old.status, rejected.status, held.status]).toEqual(['accepted', 'rejected', 'held']);
    await engine.db.pool.query(`update runs set created_at = now() - interval '100 days'`);
    const recent = await ingestFile(engine.ctx, tenantOf(), fileOf('d 2023-04-01.csv', csvOf(range(1, 41))), { outDir: engine.out });

    expect(await purgeOldRuns(engine.db, 90)).toEqual({ runs: 2, changes: 40, errors: 1, files: 4 });
    expect(await countRows(engine.db, 'run_changes', `run_id in (${old.runId}, ${rejected.runId})`)).toBe(0);
    expect(await countRows(engine.db, 'run_errors', `run_id = ${rejected.runId}`)).toBe(0);
    expect(await exists(old.files.invites!)).toBe(false);
    expect(await exists(rejected.files.errors!)).toBe(false);
    // kept: the run rows (history), the held run whole, the recent run, the members
    expect(await countRows(engine.db, 'runs')).toBe(4);
    expect(await countRows(engine.db, 'runs', 'purged_at is not null')).toBe(2);
    expect(await countRows(engine.db, 'run_changes', `run_id = ${held.runId}`)).toBe(37);
    expect(await exists(held.files.deletions!)).toBe(true);
    expect(await countRows(engine.db, 'run_changes', `run_id = ${recent.runId}`)).toBe(1);
    expect(await exists(recent.files.invites!)).toBe(true);
    expect(await countRows(engine.db, 'members')).toBe(41);
    // idempotent
    expect(await purgeOldRuns(engine.db, 90)).toEqual({ runs: 0, changes: 0, errors: 0, files: 0 });
  });

  it('refuses a nonsensical number of days', async () => {
    await expect(purgeOldRuns(engine.db, -1)).rejects.toThrow(/retention days must be a number >= 0/);
  });
});
