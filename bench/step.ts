/**
 * One measured benchmark step, run in a fresh Node process by bench/run.ts so that its peak RSS is its own:
 *
 *   node dist/bench/step.js parse FILE
 *   node dist/bench/step.js read FILE                                       (the engine's reader only, no database)
 *   node dist/bench/step.js preview FILE --against PREVIOUS [--out DIR]     (no database: embedded PGlite)
 *   node dist/bench/step.js preview FILE --db URL [--out DIR]               (against the stored state)
 *   node dist/bench/step.js ingest FILE --db URL [--out DIR]
 *
 * Prints one JSON object (StepResult) on the last line of stdout.
 */
import { parse } from 'csv-parse';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { FileInput, RunSummary } from '../src/pipeline.js';

export const BENCH_TENANT = 'bench';

export interface StepResult {
  step: string;
  /** Wall time of the work itself (after the process started and loaded its modules). */
  wallMs: number;
  /** Wall time since the process started (includes Node start-up and module loading). */
  processMs: number;
  /** Peak resident set size of the process, in KiB (process.resourceUsage().maxRSS). */
  maxRssKiB: number;
  records: number;
  summary?: Pick<RunSummary, 'status' | 'rows' | 'key' | 'counts' | 'errorCount' | 'reasons'>;
  /** ingest: the engine's own phase timings of the run (runs.timings: readMs, checkMs, diffMs, applyMs, totalMs). */
  phases?: Record<string, number>;
}

function localInput(file: string): FileInput {
  return { name: path.basename(file), open: () => createReadStream(file) };
}

/** The bare parser: csv-parse with arrays (its default), streamed from the file, counting records. */
async function bareParse(file: string): Promise<number> {
  let records = 0;
  const parser = createReadStream(file).pipe(parse());
  for await (const record of parser) {
    void record;
    records++;
  }
  return records - 1; // the header row
}

async function loadEngine() {
  const [{ defaultTenant }, { ingestFile, previewFile }, { openDatabase }, { readMembershipFile }] = await Promise.all([
    import('../src/config/tenant.js'),
    import('../src/pipeline.js'),
    import('../src/store/db.js'),
    import('../src/csv/read.js'),
  ]);
  const tenant = defaultTenant(BENCH_TENANT);
  /** The engine's streaming reader alone (UTF-8 check, sha256, parse, header mapping, value rules): rows seen. */
  const readOnly = async (file: string): Promise<number> => {
    const reading = readMembershipFile(createReadStream(file), tenant, { batchSize: 2000 });
    let rows = 0;
    for await (const batch of reading.batches) rows += batch.rows.length + batch.invalid.length;
    const totals = await reading.totals;
    if (totals.fatal) throw new Error(`line ${totals.fatal.line}: ${totals.fatal.message}`);
    return rows;
  };
  return { tenant, ingestFile, previewFile, openDatabase, readOnly };
}

async function runTimings(pool: { query: (sql: string, params: unknown[]) => Promise<{ rows: { timings: Record<string, number> }[] }> }, runId: number) {
  const result = await pool.query('select timings from runs where id = $1', [runId]);
  return result.rows[0]?.timings;
}

function brief(summary: RunSummary): StepResult['summary'] {
  const { status, rows, key, counts, errorCount, reasons } = summary;
  return { status, rows, key, counts, errorCount, reasons };
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { against: { type: 'string' }, db: { type: 'string' }, out: { type: 'string' } },
  });
  const [step, file] = positionals;
  if (!step || !file) throw new Error('usage: step.js parse|preview|ingest FILE [--against PREVIOUS] [--db URL] [--out DIR]');
  // The engine is loaded only by engine steps, so the bare parse carries none of its memory.
  const engine = step === 'parse' ? undefined : await loadEngine();
  const started = performance.now();
  let records = 0;
  let summary: RunSummary | undefined;
  let phases: Record<string, number> | undefined;

  if (step === 'parse') {
    records = await bareParse(file);
  } else if (!engine) {
    throw new Error('engine not loaded');
  } else if (step === 'read') {
    records = await engine.readOnly(file);
  } else if (step === 'preview' && !values.db) {
    const { previewFile, tenant } = engine;
    summary = await previewFile({ db: undefined }, tenant, localInput(file), {
      against: values.against ? localInput(values.against) : undefined,
      outDir: values.out,
    });
  } else if (step === 'preview' || step === 'ingest') {
    const { ingestFile, openDatabase, previewFile, tenant } = engine;
    const db = await openDatabase({ url: values.db });
    try {
      summary =
        step === 'preview'
          ? await previewFile({ db }, tenant, localInput(file), { outDir: values.out })
          : await ingestFile({ db }, tenant, localInput(file), { outDir: values.out });
      if (step === 'ingest' && summary.runId !== undefined) phases = await runTimings(db.pool, summary.runId);
    } finally {
      await db.close();
    }
  } else {
    throw new Error(`unknown step "${step}"`);
  }

  const ended = performance.now(); // taken after the phase query too: a few milliseconds, not worth a second clock
  const result: StepResult = {
    step,
    wallMs: Math.round(ended - started),
    processMs: Math.round(ended),
    maxRssKiB: process.resourceUsage().maxRSS,
    records: summary ? summary.rows : records,
    summary: summary ? brief(summary) : undefined,
    phases,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench step failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
