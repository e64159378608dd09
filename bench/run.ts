/**
 * `npm run bench`: generates (or reuses) the 100k- and 1M-row membership files, then measures, each step in a
 * fresh child process (bench/step.ts) reporting its own wall time and peak RSS:
 *   1. bare csv-parse of the next file (arrays, streamed, counting records); then the engine's reader alone
 *      (readMembershipFile: UTF-8, sha256, header mapping, value rules; no database), to split the costs
 *   2. preview of the next file --against the previous one, no database configured (the in-memory diff,
 *      src/preview/); for files up to 10k rows also the whole `hris-ingest preview` process (/usr/bin/time);
 *      then the same against a next file without its last column, so that every row is compared (preview-columns)
 *   3. ingest of the previous file into a fresh database on PostgreSQL (setup: the stored previous snapshot),
 *      then VACUUM (ANALYZE) as autovacuum would do in the weeks between two files (--no-vacuum skips it)
 *   4. preview of the next file against that stored state (PostgreSQL, rolled back)
 *   5. ingest of the next file against the stored previous one (the target step)
 * Prints a table per size, the targets (PASS/MISS) and a markdown table; writes bench/results/latest.json.
 * A benchmark, not a test: exits 0 whether targets pass or miss, 1 when something crashed.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureBenchFiles, sizeLabel, writeNextWithoutLastColumn, type BenchFiles, type ExpectedCounts } from './generate.js';
import { checkTargets, formatPhases, markdownTable, targetLines, textTable, type MeasuredStep, type SizeResult } from './report.js';
import type { StepResult } from './step.js';
import { vacuumBetweenFiles, withAdmin } from './admin.js';

const HERE = path.dirname(fileURLToPath(import.meta.url)); // dist/bench
const ROOT = path.resolve(HERE, '..', '..');
const STEP_SCRIPT = path.join(HERE, 'step.js');
const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

interface Options {
  sizes: number[];
  dataDir: string;
  resultsDir: string;
  databaseUrl: string;
  keepDb: boolean;
  /** Keep the output files the preview and ingest steps wrote (hundreds of MB at 1M). */
  keepOut: boolean;
  cpuProfile: boolean;
  embeddedPreview: boolean;
  /** VACUUM (ANALYZE) the database between the previous and the next file, as autovacuum would in the weeks between two files. */
  vacuumBetween: boolean;
  stepTimeoutMs: number;
  /** --e2e: the end-to-end benchmark instead (bench/e2e.ts). */
  e2e?: import('./e2e.js').E2eOptions;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      'results-dir': { type: 'string' },
      'keep-db': { type: 'boolean', default: false },
      'keep-out': { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      'no-embedded-preview': { type: 'boolean', default: false },
      'no-vacuum': { type: 'boolean', default: false },
      'step-timeout': { type: 'string' },
      e2e: { type: 'boolean', default: false },
      drops: { type: 'string' },
      tenants: { type: 'string' },
      parallel: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      [
        'usage: npm run bench -- [--sizes 100000,1000000] [--quick] [--cpu-prof] [--keep-db] [--keep-out] [--no-embedded-preview] [--no-vacuum]',
        '       npm run bench -- --e2e [--sizes 100000,1000000] [--drops sshd,dev] [--tenants 100] [--parallel 1,2,4,8]   (bench/e2e.ts)',
        '                        [--data-dir bench/data] [--results-dir bench/results] [--step-timeout MINUTES]',
        'DATABASE_URL: PostgreSQL server for the ingest steps (a fresh database is created and dropped);',
        `default ${DEFAULT_DATABASE_URL}`,
        '',
      ].join('\n'),
    );
    process.exit(0);
  }
  const sizes = values.quick ? [100_000] : (values.sizes ?? '100000,1000000').split(',').map((text) => Number(text.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`--sizes: expected positive whole numbers, got "${values.sizes}"`);
  const timeoutMinutes = values['step-timeout'] ? Number(values['step-timeout']) : 30;
  if (!(timeoutMinutes > 0)) throw new Error('--step-timeout: expected minutes > 0');
  return {
    sizes: [...new Set(sizes)].sort((a, b) => a - b),
    dataDir: path.resolve(values['data-dir'] ?? path.join(ROOT, 'bench', 'data')),
    resultsDir: path.resolve(values['results-dir'] ?? path.join(ROOT, 'bench', 'results')),
    databaseUrl: process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
    keepDb: values['keep-db'],
    keepOut: values['keep-out'],
    cpuProfile: values['cpu-prof'],
    embeddedPreview: !values['no-embedded-preview'],
    vacuumBetween: !values['no-vacuum'],
    stepTimeoutMs: timeoutMinutes * 60_000,
    e2e: values.e2e
      ? {
          sizes: [...new Set(sizes)].sort((a, b) => a - b),
          drops: (values.drops ?? 'sshd,dev').split(',').map((d) => d.trim()).filter((d): d is 'sshd' | 'dev' => d === 'sshd' || d === 'dev'),
          tenants: Number(values.tenants ?? 100),
          parallel: (values.parallel ?? '1,2,4,8').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0),
          dataDir: path.resolve(values['data-dir'] ?? path.join(ROOT, 'bench', 'data')),
          databaseUrl: process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
          vacuumBetween: !values['no-vacuum'],
        }
      : undefined,
  };
}

/** Runs one step in a fresh Node process; resolves with its result or a failure text (never rejects). */
function runStep(args: string[], options: { timeoutMs: number; nodeArgs?: string[] }): Promise<StepResult | { failure: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), STEP_SCRIPT, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) {
        resolve(JSON.parse(last) as StepResult);
        return;
      }
      const why = timedOut ? `timed out after ${Math.round(options.timeoutMs / 60_000)} min` : signal ? `killed by ${signal}` : `exit ${code}`;
      const lastError = stderr.trim().split('\n').filter(Boolean).slice(-3).join(' | ');
      resolve({ failure: `${why}${lastError ? `: ${lastError.slice(0, 300)}` : ''}` });
    });
  });
}

function compareCounts(expected: ExpectedCounts, summary: StepResult['summary']): string | undefined {
  if (!summary) return 'no summary';
  if (summary.status !== 'accepted') return `status ${summary.status} (${summary.reasons.join('; ')})`;
  const diffs = (Object.keys(expected) as (keyof ExpectedCounts)[])
    .filter((key) => summary.counts[key] !== expected[key])
    .map((key) => `${key} ${summary.counts[key]} (expected ${expected[key]})`);
  return diffs.length ? diffs.join(', ') : undefined;
}

async function createBenchDatabase(serverUrl: string, rows: number): Promise<{ name: string; url: string }> {
  const name = `hris_bench_${sizeLabel(rows).toLowerCase()}_${Date.now().toString(36)}`;
  await withAdmin(serverUrl, (client) => client.query(`create database ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

async function dropBenchDatabase(serverUrl: string, name: string): Promise<void> {
  await withAdmin(serverUrl, (client) => client.query(`drop database if exists ${name} with (force)`));
}

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

async function measureSize(options: Options, rows: number): Promise<{ result: SizeResult; crashed: boolean }> {
  const label = sizeLabel(rows);
  process.stdout.write(`\n== ${label} rows: files in ${path.relative(process.cwd(), options.dataDir) || '.'}\n`);
  const generationStarted = Date.now();
  const files: BenchFiles & { reused: boolean } = await ensureBenchFiles(options.dataDir, rows);
  process.stdout.write(
    `   ${files.reused ? 'reused' : `generated in ${((Date.now() - generationStarted) / 1000).toFixed(1)} s`}: ` +
      `"${files.previous.name}" (${(files.previous.bytes / 1e6).toFixed(1)} MB), "${files.next.name}" (${(files.next.bytes / 1e6).toFixed(1)} MB)\n`,
  );
  const outDir = path.join(options.resultsDir, 'out', label);
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const steps: MeasuredStep[] = [];
  let crashed = false;

  const measure = async (
    step: Omit<MeasuredStep, 'wallMs' | 'maxRssKiB'>,
    args: string[],
    expected?: ExpectedCounts,
    nodeArgs?: string[],
  ): Promise<void> => {
    process.stdout.write(`   ${step.label} ... `);
    const loadBefore = os.loadavg()[0]!;
    const outcome = await runStep(args, { timeoutMs: options.stepTimeoutMs, nodeArgs });
    if ('failure' in outcome) {
      crashed = true;
      steps.push({ ...step, failure: outcome.failure });
      process.stdout.write(`FAILED: ${outcome.failure}\n`);
      return;
    }
    const countMismatch = expected ? compareCounts(expected, outcome.summary) : undefined;
    const load = Math.max(loadBefore, os.loadavg()[0]!);
    steps.push({ ...step, rows: outcome.records, wallMs: outcome.wallMs, maxRssKiB: outcome.maxRssKiB, load, phases: outcome.phases, countMismatch });
    process.stdout.write(
      `${(outcome.wallMs / 1000).toFixed(2)} s, peak RSS ${(outcome.maxRssKiB / 1024).toFixed(0)} MB, load ${load.toFixed(1)}` +
        (outcome.phases ? ` (engine phases: ${formatPhases(outcome.phases, outcome.wallMs)})` : '') +
        (expected ? (countMismatch ? `; COUNTS DIFFER from the generator: ${countMismatch}` : '; counts match the generator') : '') +
        '\n',
    );
  };

  const next = files.next;
  const previous = files.previous;
  await measure({ id: 'parse', label: 'bare csv-parse (arrays)', rows: next.rows }, ['parse', next.path]);
  await measure({ id: 'read', label: 'engine reader only (validate, no DB)', rows: next.rows }, ['read', next.path]);
  if (options.embeddedPreview) {
    await measure(
      { id: 'preview-embedded', label: 'preview --against previous (no DB: in memory)', rows: next.rows },
      ['preview', next.path, '--against', previous.path, '--out', path.join(outDir, 'preview-embedded')],
      next.expected,
    );
    if (rows <= 10_000) steps.push(await cliPreview(next.path, previous.path, path.join(outDir, 'preview-cli'), next.rows));
    const columnDropped = await writeNextWithoutLastColumn(options.dataDir, rows);
    await measure(
      { id: 'preview-columns', label: 'preview --against previous, a column dropped: every row compared (no DB)', rows: columnDropped.rows },
      ['preview', columnDropped.path, '--against', previous.path, '--out', path.join(outDir, 'preview-columns')],
      columnDropped.expected,
    );
  }

  let database: { name: string; url: string } | undefined;
  try {
    database = await createBenchDatabase(options.databaseUrl, rows);
  } catch (error) {
    crashed = true;
    const failure = `no PostgreSQL at ${redact(options.databaseUrl)}: ${(error as Error).message} (set DATABASE_URL)`;
    process.stdout.write(`   ${failure}\n`);
    for (const [id, stepLabel] of [['ingest-previous', 'ingest previous (setup)'], ['preview-stored', 'preview (stored state, PostgreSQL)'], ['ingest', 'ingest next (PostgreSQL)']] as const) {
      steps.push({ id, label: stepLabel, rows: next.rows, failure });
    }
  }
  if (database) {
    try {
      await measure(
        { id: 'ingest-previous', label: 'ingest previous (setup: first file)', rows: previous.rows, setup: true },
        ['ingest', previous.path, '--db', database.url, '--out', path.join(outDir, 'ingest-previous')],
        previous.expected,
      );
      if (options.vacuumBetween) {
        await vacuumBetweenFiles(database.url);
      }
      await measure(
        { id: 'preview-stored', label: 'preview (stored state, PostgreSQL)', rows: next.rows },
        ['preview', next.path, '--db', database.url, '--out', path.join(outDir, 'preview-stored')],
        next.expected,
      );
      const profileArgs = options.cpuProfile
        ? ['--cpu-prof', `--cpu-prof-dir=${path.join(options.resultsDir, 'profiles')}`, `--cpu-prof-name=ingest-${label}.cpuprofile`]
        : undefined;
      await measure(
        { id: 'ingest', label: 'ingest next (PostgreSQL)', rows: next.rows },
        ['ingest', next.path, '--db', database.url, '--out', path.join(outDir, 'ingest')],
        next.expected,
        profileArgs,
      );
    } finally {
      if (options.keepDb) process.stdout.write(`   kept database ${database.name}\n`);
      else await dropBenchDatabase(options.databaseUrl, database.name).catch(() => undefined);
    }
  }
  if (options.keepOut) process.stdout.write(`   output files kept in ${path.relative(process.cwd(), outDir)}\n`);
  else await rm(outDir, { recursive: true, force: true });
  return { result: { rows, fileBytes: next.bytes, steps }, crashed };
}

/**
 * The whole `hris-ingest preview NEXT --against PREVIOUS --json` process as a CSM runs it (Node start-up and
 * the CLI's modules included), under /usr/bin/time for its wall time and peak RSS.
 */
async function cliPreview(next: string, previous: string, outDir: string, rows: number): Promise<MeasuredStep> {
  const step = { id: 'preview-cli', label: 'CLI preview --against previous (whole process)', rows };
  process.stdout.write(`   ${step.label} ... `);
  const load = os.loadavg()[0]!;
  const cli = path.join(ROOT, 'dist', 'src', 'cli.js');
  const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn('/usr/bin/time', ['-f', 'TIME %e %M', process.execPath, cli, 'preview', next, '--against', previous, '--out', outDir, '--json'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL')), LOG_LEVEL: 'warn' },
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('close', (code) => resolve({ code, stderr }));
    child.on('error', (error) => resolve({ code: -1, stderr: error.message }));
  });
  const match = /TIME ([\d.]+) (\d+)\s*$/.exec(result.stderr);
  if (result.code !== 0 || !match) {
    process.stdout.write(`FAILED: ${result.stderr.slice(-300)}\n`);
    return { ...step, failure: result.stderr.slice(-300) };
  }
  const measured = { ...step, wallMs: Number(match[1]) * 1000, maxRssKiB: Number(match[2]), load: Math.max(load, os.loadavg()[0]!) };
  process.stdout.write(`${match[1]} s, peak RSS ${(measured.maxRssKiB / 1024).toFixed(0)} MB, load ${measured.load.toFixed(1)}\n`);
  return measured;
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'DATABASE_URL';
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.e2e) {
    const { runE2e } = await import('./e2e.js');
    await runE2e(options.e2e);
    return;
  }
  const started = new Date();
  const host = machine();
  process.stdout.write(
    `hris-sftp-ingest benchmark ${started.toISOString()} on ${host.cpus} x ${host.cpuModel}, ${host.memoryGiB} GiB, Node ${host.node}\n` +
      `database: ${redact(options.databaseUrl)} (a fresh database per size)\n`,
  );
  const results: SizeResult[] = [];
  let crashed = false;
  for (const rows of options.sizes) {
    const measured = await measureSize(options, rows);
    results.push(measured.result);
    crashed ||= measured.crashed;
  }

  for (const size of results) {
    process.stdout.write(`\n${size.rows.toLocaleString('en-US')} rows, next file ${(size.fileBytes / 1e6).toFixed(1)} MB\n${textTable(size)}\n`);
  }
  const busiest = Math.max(0, ...results.flatMap((size) => size.steps.map((step) => step.load ?? 0)));
  if (busiest > host.cpus) {
    process.stdout.write(`\nNOTE: the 1-minute load average reached ${busiest.toFixed(1)} on ${host.cpus} CPUs during the run: other work competed for the CPU, so wall times are pessimistic.\n`);
  }
  const checks = checkTargets(results);
  process.stdout.write(`\nTargets (2-core machine; issues 2 and 10)\n${targetLines(checks)}\n`);
  const mismatches = results.flatMap((size) => size.steps.filter((step) => step.countMismatch).map((step) => `${size.rows} ${step.label}: ${step.countMismatch}`));
  if (mismatches.length) process.stdout.write(`\nDiff counts differing from the generator's:\n${mismatches.join('\n')}\n`);
  process.stdout.write(`\nMarkdown (README / docs/bench.md):\n\n${markdownTable(results)}\n`);

  await mkdir(options.resultsDir, { recursive: true });
  const json = { date: started.toISOString(), machine: host, sizes: results, targets: checks };
  const resultFile = path.join(options.resultsDir, 'latest.json');
  await writeFile(resultFile, JSON.stringify(json, null, 2) + '\n');
  process.stdout.write(`\nresults: ${path.relative(process.cwd(), resultFile)}\n`);
  if (crashed) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
