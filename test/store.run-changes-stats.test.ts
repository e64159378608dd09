import { describe, expect, it } from 'vitest';
import { ingestFile } from '../src/pipeline.js';
import { analyzeAfterBigRun, ANALYZE_FILE_ROWS_FROM } from '../src/store/run-changes-stats.js';
import { csvOf, fileOf, range, tenantOf, useEngine } from './pipeline.support.js';

describe('run_changes statistics after a big run (src/store/run-changes-stats.ts)', () => {
  const engine = useEngine({ outDir: 'engine-stats-' });
  const rowsKnown = async () =>
    (await engine.db.pool.query<{ n: number }>("select reltuples::int as n from pg_class where relname = 'run_changes'")).rows[0]!.n;

  it('analyzes run_changes when the run has at least that many rows in its files, and only then', async () => {
    // 40 invites: under the real threshold, so the ingest itself leaves the statistics alone
    const run = await ingestFile(engine.ctx, tenantOf(), fileOf('a 2023-01-01.csv', csvOf(range(1, 40))));
    expect(run.counts.invites).toBe(40);
    expect(ANALYZE_FILE_ROWS_FROM).toBeGreaterThan(40);
    const before = await rowsKnown();
    expect(before).toBeLessThanOrEqual(0); // never analyzed: -1 (0 on older servers)
    expect(await analyzeAfterBigRun(engine.db.pool, run.runId!, 41)).toBe(false);
    expect(await rowsKnown()).toBe(before);
    expect(await analyzeAfterBigRun(engine.db.pool, run.runId!, 40)).toBe(true);
    expect(await rowsKnown()).toBe(40);
  });

  it('a run with no row in its files (a rejected one) is never analyzed', async () => {
    // Counted from the stored run's counts: a run with no row in its files is never "big"
    const rejected = await ingestFile(engine.ctx, tenantOf(), fileOf('b 2023-01-02.csv', 'first_name\nAda\n'));
    expect(rejected.status).toBe('rejected');
    expect(await analyzeAfterBigRun(engine.db.pool, rejected.runId!, 1)).toBe(false);
  });
});
