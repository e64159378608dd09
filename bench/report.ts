/** Tables and target checks of the benchmark (pure functions over measured steps). */

export interface MeasuredStep {
  /** Stable id: parse, read, preview-embedded, preview-cli, preview-columns, ingest-previous, preview-stored, ingest. */
  id: string;
  label: string;
  rows: number;
  wallMs?: number;
  maxRssKiB?: number;
  /** Highest 1-minute load average seen around the step (other work on the machine skews wall times). */
  load?: number;
  /** Setup steps are shown but not part of the targets. */
  setup?: boolean;
  /** ingest: the engine's phase timings (ms). */
  phases?: Record<string, number>;
  /** Why the step has no figures (crashed, timed out, skipped). */
  failure?: string;
  /** Generator's expected diff counts against what the engine reported, when they differ. */
  countMismatch?: string;
}

export interface SizeResult {
  rows: number;
  fileBytes: number;
  steps: MeasuredStep[];
}

export interface TargetCheck {
  target: string;
  measured: string;
  pass: boolean;
}

const mib = (kib: number): number => kib / 1024;
const fixed = (value: number, digits: number): string => value.toFixed(digits);

function stepById(size: SizeResult, id: string): MeasuredStep | undefined {
  return size.steps.find((step) => step.id === id && step.failure === undefined);
}

export interface TableRow {
  step: string;
  rows: string;
  wall: string;
  rate: string;
  rss: string;
  ratio: string;
  load: string;
}

export function tableRows(size: SizeResult): TableRow[] {
  const parse = stepById(size, 'parse');
  return size.steps.map((step) => {
    if (step.failure !== undefined || step.wallMs === undefined) {
      return { step: step.label, rows: String(step.rows), wall: '—', rate: '—', rss: '—', ratio: step.failure ?? 'no figures', load: '—' };
    }
    const seconds = step.wallMs / 1000;
    return {
      step: step.label,
      rows: step.rows.toLocaleString('en-US'),
      wall: fixed(seconds, 2),
      rate: Math.round(step.rows / seconds).toLocaleString('en-US'),
      rss: step.maxRssKiB === undefined ? '—' : fixed(mib(step.maxRssKiB), 0),
      ratio: parse?.wallMs ? `${fixed(step.wallMs / parse.wallMs, 2)}x` : '—',
      load: step.load === undefined ? '—' : fixed(step.load, 1),
    };
  });
}

const HEAD: TableRow = { step: 'step', rows: 'rows', wall: 'wall s', rate: 'rows/s', rss: 'peak RSS MB', ratio: 'x bare parse', load: 'load' };

export function textTable(size: SizeResult): string {
  const rows = [HEAD, ...tableRows(size)];
  const keys = Object.keys(HEAD) as (keyof TableRow)[];
  const widths = keys.map((key) => Math.max(...rows.map((row) => row[key].length)));
  const line = (row: TableRow) =>
    keys.map((key, i) => (i === 0 ? row[key].padEnd(widths[i]!) : row[key].padStart(widths[i]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

export function markdownTable(sizes: SizeResult[]): string {
  const out = [
    '| file | step | wall s | rows/s | peak RSS MB | x bare parse | load |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const size of sizes) {
    const label = `${size.rows.toLocaleString('en-US')} rows (${fixed(size.fileBytes / 1e6, size.fileBytes < 1e7 ? 1 : 0)} MB)`;
    for (const row of tableRows(size)) out.push(`| ${label} | ${row.step} | ${row.wall} | ${row.rate} | ${row.rss} | ${row.ratio} | ${row.load} |`);
  }
  return out.join('\n');
}

export const TARGETS = { ingestToParse: 2.0, peakRssMiB: 300, rssGrowth: 1.5 } as const;

/**
 * Issue 10's targets, each checked when its step ran at its size: a first file of 1M rows <= 3x the bare
 * parse; a 1M-row preview --against (no database) <= 300 MB; a 1,000-row preview (the work, and the whole
 * CLI process) <= 0.5 s and <= 150 MB.
 */
export const ISSUE_10 = { firstFileToParse: 3.0, bigPreviewRssMiB: 300, smallPreviewMs: 500, smallPreviewRssMiB: 150 } as const;

/**
 * The targets: issue 2's (ingest <= 2.0x bare parse, ingest peak RSS < 300 MB, RSS(largest) <= 1.5x
 * RSS(smallest)), then issue 10's (ISSUE_10).
 */
export function checkTargets(sizes: SizeResult[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const size of sizes) {
    const parse = stepById(size, 'parse');
    const ingest = stepById(size, 'ingest');
    const label = `${size.rows.toLocaleString('en-US')} rows`;
    if (parse?.wallMs && ingest?.wallMs !== undefined) {
      const ratio = ingest.wallMs / parse.wallMs;
      checks.push({
        target: `${label}: ingest <= ${TARGETS.ingestToParse}x bare parse`,
        measured: `${fixed(ingest.wallMs / 1000, 1)} s / ${fixed(parse.wallMs / 1000, 1)} s = ${fixed(ratio, 2)}x`,
        pass: ratio <= TARGETS.ingestToParse,
      });
    } else {
      checks.push({ target: `${label}: ingest <= ${TARGETS.ingestToParse}x bare parse`, measured: 'not measured', pass: false });
    }
    if (ingest?.maxRssKiB !== undefined) {
      const peak = mib(ingest.maxRssKiB);
      checks.push({ target: `${label}: ingest peak RSS < ${TARGETS.peakRssMiB} MB`, measured: `${fixed(peak, 0)} MB`, pass: peak < TARGETS.peakRssMiB });
    } else {
      checks.push({ target: `${label}: ingest peak RSS < ${TARGETS.peakRssMiB} MB`, measured: 'not measured', pass: false });
    }
  }
  if (sizes.length >= 2) {
    const ordered = [...sizes].sort((a, b) => a.rows - b.rows);
    const small = ordered[0]!;
    const large = ordered[ordered.length - 1]!;
    const smallRss = stepById(small, 'ingest')?.maxRssKiB;
    const largeRss = stepById(large, 'ingest')?.maxRssKiB;
    const target = `ingest RSS(${large.rows.toLocaleString('en-US')}) <= ${TARGETS.rssGrowth}x RSS(${small.rows.toLocaleString('en-US')})`;
    if (smallRss !== undefined && largeRss !== undefined) {
      const growth = largeRss / smallRss;
      checks.push({ target, measured: `${fixed(mib(largeRss), 0)} MB / ${fixed(mib(smallRss), 0)} MB = ${fixed(growth, 2)}x`, pass: growth <= TARGETS.rssGrowth });
    } else {
      checks.push({ target, measured: 'not measured', pass: false });
    }
  }
  for (const size of sizes) checks.push(...issue10Checks(size));
  return checks;
}

function issue10Checks(size: SizeResult): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const label = `${size.rows.toLocaleString('en-US')} rows`;
  const ran = (id: string) => size.steps.some((step) => step.id === id);
  const notMeasured = (target: string) => checks.push({ target, measured: 'not measured', pass: false });
  if (size.rows >= 1_000_000 && ran('ingest-previous')) {
    const target = `${label}: first file (ingest previous) <= ${ISSUE_10.firstFileToParse}x bare parse`;
    const parse = stepById(size, 'parse')?.wallMs;
    const first = stepById(size, 'ingest-previous')?.wallMs;
    if (parse && first !== undefined) {
      const ratio = first / parse;
      checks.push({ target, measured: `${fixed(first / 1000, 1)} s / ${fixed(parse / 1000, 1)} s = ${fixed(ratio, 2)}x`, pass: ratio <= ISSUE_10.firstFileToParse });
    } else notMeasured(target);
  }
  for (const [id, what] of [['preview-embedded', 'preview --against (no DB)'], ['preview-columns', 'preview --against (no DB), every row compared']] as const) {
    if (size.rows < 1_000_000 || !ran(id)) continue;
    const target = `${label}: ${what} peak RSS <= ${ISSUE_10.bigPreviewRssMiB} MB`;
    const rss = stepById(size, id)?.maxRssKiB;
    if (rss !== undefined) checks.push({ target, measured: `${fixed(mib(rss), 0)} MB`, pass: mib(rss) <= ISSUE_10.bigPreviewRssMiB });
    else notMeasured(target);
  }
  if (size.rows <= 1_000) {
    for (const id of ['preview-embedded', 'preview-cli']) {
      if (!ran(id)) continue;
      const what = id === 'preview-cli' ? 'CLI preview process' : 'preview --against (no DB)';
      const target = `${label}: ${what} <= ${ISSUE_10.smallPreviewMs / 1000} s and <= ${ISSUE_10.smallPreviewRssMiB} MB`;
      const step = stepById(size, id);
      if (step?.wallMs !== undefined && step.maxRssKiB !== undefined) {
        checks.push({
          target,
          measured: `${fixed(step.wallMs / 1000, 2)} s, ${fixed(mib(step.maxRssKiB), 0)} MB`,
          pass: step.wallMs <= ISSUE_10.smallPreviewMs && mib(step.maxRssKiB) <= ISSUE_10.smallPreviewRssMiB,
        });
      } else notMeasured(target);
    }
  }
  return checks;
}

export function targetLines(checks: TargetCheck[]): string {
  return checks.map((check) => `${check.pass ? 'PASS' : 'MISS'}  ${check.target}: ${check.measured}`).join('\n');
}

/**
 * The engine's phases of a run (runs.timings), in the order src/diff/run.ts marks them (jsonb keeps its keys
 * in its own order): "read 4.1 s (of which waiting for staging inserts 0.5 s), analyze 0.3 s, ...". With the
 * step's WALL_MS, the rest after the engine is "commit + output files + summary"; without, the engine's own total.
 */
export function formatPhases(phases: Record<string, number>, wallMs?: number): string {
  const order = ['knownMs', 'readMs', 'analyzeMs', 'checkMs', 'absentMs', 'diffMs', 'applyMs'];
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const parts = Object.entries(phases)
    .filter(([name]) => name !== 'totalMs' && name !== 'stageWaitMs')
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([name, ms]) => `${name.replace(/Ms$/, '')} ${seconds(ms)}${name === 'readMs' && phases.stageWaitMs !== undefined
      // stageWait is part of read: the time the reader waited for PostgreSQL to take the staged batches.
      ? ` (of which waiting for staging inserts ${seconds(phases.stageWaitMs)})` : ''}`);
  if (phases.totalMs !== undefined) {
    parts.push(wallMs === undefined ? `engine total ${seconds(phases.totalMs)}` : `commit + output files + summary ${seconds(wallMs - phases.totalMs)}`);
  }
  return parts.join(', ');
}
