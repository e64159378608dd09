import { access, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { approveRun, ingestFile, purgeOldRuns } from '../src/pipeline.js';
import { unappliedRuns } from '../src/store/run-applied.js';
import { countRows, csvOf, fileOf, person, range, tenantOf, useEngine } from './pipeline.support.js';

const exists = (file: string) => access(file).then(() => true, () => false);

describe('retention', () => {
  const engine = useEngine({ outDir: 'engine-retention-' });

  it('purges changes, errors and files of runs older than N days; run rows, held runs awaiting a decision and the state stay', async () => {
    const old = await ingestFile(engine.ctx, tenantOf(), fileOf('a 2023-01-01.csv', csvOf(range(1, 40))), { outDir: engine.out });
    const rejected = await ingestFile(engine.ctx, tenantOf(), fileOf('b 2023-01-02.csv', csvOf([person(1, { status: 'x' })])), { outDir: engine.out });
    const held = await ingestFile(engine.ctx, tenantOf(), fileOf('c 2023-01-03.csv', csvOf(range(1, 3))), { outDir: engine.out });
    expect([old.status, rejected.status, held.status]).toEqual(['accepted', 'rejected', 'held']);
    // another tenant's held run that a later accepted run supersedes: it can no longer be decided
    const beta = tenantOf({ id: 'beta', name: 'Beta' });
    await ingestFile(engine.ctx, beta, fileOf('a 2023-01-01.csv', csvOf(range(1, 40))), { outDir: engine.out });
    const moot = await ingestFile(engine.ctx, beta, fileOf('b 2023-01-02.csv', csvOf(range(1, 3))), { outDir: engine.out });
    expect((await ingestFile(engine.ctx, beta, fileOf('c 2023-01-03.csv', csvOf(range(1, 39))))).status).toBe('accepted');
    expect(await countRows(engine.db, 'runs', `id = ${moot.runId} and status = 'held' and superseded_by is not null`)).toBe(1);
    await engine.db.pool.query(`update runs set created_at = now() - interval '100 days'`);
    const recent = await ingestFile(engine.ctx, beta, fileOf('d 2023-04-01.csv', csvOf(range(1, 40))), { outDir: engine.out });

    const purged = await purgeOldRuns(engine.db, 90);
    expect(purged).toMatchObject({ runs: 5 });
    expect(await countRows(engine.db, 'run_changes', `run_id = ${moot.runId}`)).toBe(0);
    expect(moot.files.deletions).toBeUndefined(); // a held run's platform files come with its approval
    expect(await countRows(engine.db, 'run_changes', `run_id in (${old.runId}, ${rejected.runId})`)).toBe(0);
    expect(await countRows(engine.db, 'run_errors', `run_id = ${rejected.runId}`)).toBe(0);
    expect(await exists(old.files.invites!)).toBe(false);
    expect(await exists(rejected.files.errors!)).toBe(false);
    // kept: the run rows (history), the held run whole, the recent run, the members
    expect(await countRows(engine.db, 'runs')).toBe(7);
    expect(await countRows(engine.db, 'runs', 'purged_at is not null')).toBe(5);
    expect(await countRows(engine.db, 'run_changes', `run_id = ${held.runId}`)).toBe(37);
    expect(held.files.deletions).toBeUndefined();
    expect(await countRows(engine.db, 'run_changes', `run_id = ${recent.runId}`)).toBe(1);
    expect(await exists(recent.files.invites!)).toBe(true);
    expect(await countRows(engine.db, 'members', "tenant_id = 'acme'")).toBe(40);
    // idempotent
    expect(await purgeOldRuns(engine.db, 90)).toEqual({ runs: 0, changes: 0, errors: 0, files: 0, alertFolders: 0 });
  });

  it('a held run approved after retentionDays counts from its approval; a file another run still records stays; the local alert folders of purged runs go', async () => {
    const acme = tenantOf();
    const first = await ingestFile(engine.ctx, acme, fileOf('a 2023-01-01.csv', csvOf(range(1, 40))), { outDir: engine.out });
    const held = await ingestFile(engine.ctx, acme, fileOf('b 2023-01-02.csv', csvOf(range(1, 3))), { outDir: engine.out });
    expect(held.status).toBe('held');
    await engine.db.pool.query(`update runs set created_at = now() - interval '100 days'`);
    const approved = await approveRun(engine.ctx, new Map([['acme', acme]]), held.runId!, 'olga', { outDir: engine.out });
    // the same date again: the same output names, which this newer run now owns
    const sameNames = await ingestFile(engine.ctx, acme, fileOf('c 2023-01-02.csv', csvOf(range(1, 4))), { outDir: engine.out });
    expect(sameNames.files.invites).toBe(approved.files.invites);
    const alerts = await mkdtemp(path.join(os.tmpdir(), 'retention-alerts-'));
    try {
      for (const id of [first.runId, held.runId, sameNames.runId]) {
        await mkdir(path.join(alerts, `run-${id}-accepted`));
        await writeFile(path.join(alerts, `run-${id}-accepted`, 'members.csv'), 'member data');
      }
      const purged = await purgeOldRuns(engine.db, 90, { alertsDir: alerts });
      expect(purged).toMatchObject({ runs: 1, alertFolders: 1 }); // the first run only
      expect(await countRows(engine.db, 'runs', `purged_at is not null`)).toBe(1);
      expect(await countRows(engine.db, 'run_changes', `run_id = ${held.runId}`)).toBeGreaterThan(0);
      expect((await readdir(alerts)).sort()).toEqual([`run-${held.runId}-accepted`, `run-${sameNames.runId}-accepted`]);
      // a purged run's files are gone: nobody is asked to upload them any more
      expect((await unappliedRuns(engine.db.pool, 'acme', { limit: 10 })).ids).not.toContain(first.runId);
      // a month after the approval the approved run goes, but its paths are the newer run's files
      await engine.db.pool.query(`update runs set decided_at = now() - interval '100 days' where id = $1`, [held.runId]);
      expect(await purgeOldRuns(engine.db, 90, { alertsDir: alerts })).toMatchObject({ runs: 1, alertFolders: 1 });
      expect(await exists(sameNames.files.invites!)).toBe(true);
      expect(await exists(sameNames.files.deletions!)).toBe(true);
    } finally {
      await rm(alerts, { recursive: true, force: true });
    }
  });

  it('refuses a nonsensical number of days', async () => {
    await expect(purgeOldRuns(engine.db, -1)).rejects.toThrow(/retention days must be a number >= 0/);
  });
});
