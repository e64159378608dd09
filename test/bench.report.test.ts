import { describe, expect, it } from 'vitest';
import { checkTargets, formatPhases, markdownTable, tableRows, type SizeResult } from '../bench/report.js';

const size = (rows: number, parseMs: number, ingestMs: number, ingestRssMiB: number): SizeResult => ({
  rows,
  fileBytes: rows * 164,
  steps: [
    { id: 'parse', label: 'bare csv-parse (arrays)', rows, wallMs: parseMs, maxRssKiB: 60 * 1024 },
    { id: 'ingest', label: 'ingest next (PostgreSQL)', rows, wallMs: ingestMs, maxRssKiB: ingestRssMiB * 1024 },
  ],
});

describe('benchmark targets', () => {
  it('passes at exactly 2.0x and under 300 MB, misses just above', () => {
    const checks = checkTargets([size(1_000_000, 7600, 15_200, 299)]);
    expect(checks.map((c) => c.pass)).toEqual([true, true]);
    const missed = checkTargets([size(1_000_000, 7600, 15_300, 300)]);
    expect(missed.map((c) => c.pass)).toEqual([false, false]);
    expect(missed[0]!.measured).toBe('15.3 s / 7.6 s = 2.01x');
  });

  it('compares the peak RSS of the largest size with the smallest', () => {
    const growth = (large: number) => checkTargets([size(1_000_000, 1, 1, large), size(100_000, 1, 1, 100)]).at(-1)!;
    expect(growth(150)).toMatchObject({ pass: true, target: 'ingest RSS(1,000,000) <= 1.5x RSS(100,000)' });
    expect(growth(151).pass).toBe(false);
  });

  it('a crashed ingest is a MISS with no figures, and the table says why', () => {
    const crashed: SizeResult = {
      rows: 100_000,
      fileBytes: 16_400_000,
      steps: [
        { id: 'parse', label: 'bare csv-parse (arrays)', rows: 100_000, wallMs: 1000, maxRssKiB: 61_440 },
        { id: 'ingest', label: 'ingest next (PostgreSQL)', rows: 100_000, failure: 'exit 1: boom' },
      ],
    };
    expect(checkTargets([crashed]).map((c) => [c.pass, c.measured])).toEqual([
      [false, 'not measured'],
      [false, 'not measured'],
    ]);
    expect(tableRows(crashed)[1]).toMatchObject({ wall: '—', ratio: 'exit 1: boom' });
    expect(markdownTable([crashed])).toContain('| 100,000 rows (16 MB) | bare csv-parse (arrays) | 1.00 | 100,000 | 60 | 1.00x | — |');
  });
});

describe('issue 10 targets', () => {
  const step = (id: string, wallMs: number | undefined, rssMiB: number | undefined, failure?: string) => ({
    id, label: id, rows: 0, wallMs, maxRssKiB: rssMiB === undefined ? undefined : rssMiB * 1024, ...(failure ? { failure } : {}),
  });
  const issue10 = (rows: number, steps: ReturnType<typeof step>[]) =>
    checkTargets([{ rows, fileBytes: rows * 164, steps: [step('parse', 8000, 60), ...steps] }]).filter((c) => !/ingest (<=|peak)/.test(c.target));

  it('a 1M first file passes at 3x the bare parse of the same run and misses above; the no-database preview at 300 MB', () => {
    expect(issue10(1_000_000, [step('ingest-previous', 24_000, 118), step('preview-embedded', 20_000, 300)])).toEqual([
      { target: '1,000,000 rows: first file (ingest previous) <= 3x bare parse', measured: '24.0 s / 8.0 s = 3.00x', pass: true },
      { target: '1,000,000 rows: preview --against (no DB) peak RSS <= 300 MB', measured: '300 MB', pass: true },
    ]);
    expect(issue10(1_000_000, [step('ingest-previous', 40_600, 118), step('preview-embedded', 20_000, 301)]).map((c) => [c.pass, c.measured])).toEqual([
      [false, '40.6 s / 8.0 s = 5.08x'],
      [false, '301 MB'],
    ]);
    // every row compared (a column dropped): the same limit
    expect(issue10(1_000_000, [step('preview-columns', 27_000, 301)])).toEqual([
      { target: '1,000,000 rows: preview --against (no DB), every row compared peak RSS <= 300 MB', measured: '301 MB', pass: false },
    ]);
  });

  it('a 1,000-row preview, the work and the whole CLI process, against 0.5 s and 150 MB each', () => {
    const checks = issue10(1_000, [step('preview-embedded', 90, 88), step('preview-cli', 510, 72)]);
    expect(checks.map((c) => [c.target, c.pass])).toEqual([
      ['1,000 rows: preview --against (no DB) <= 0.5 s and <= 150 MB', true],
      ['1,000 rows: CLI preview process <= 0.5 s and <= 150 MB', false],
    ]);
    expect(issue10(1_000, [step('preview-cli', 480, 151)])[0]).toMatchObject({ pass: false, measured: '0.48 s, 151 MB' });
  });

  it('a step that did not run is not a target of the run; one that crashed is a MISS', () => {
    expect(issue10(1_000_000, [])).toEqual([]);
    expect(issue10(100_000, [step('ingest-previous', 4000, 100)])).toEqual([]); // the 3x target is the 1M file's
    expect(issue10(1_000_000, [step('ingest-previous', undefined, undefined, 'exit 1: boom')])).toEqual([
      { target: '1,000,000 rows: first file (ingest previous) <= 3x bare parse', measured: 'not measured', pass: false },
    ]);
  });
});

describe('engine phases', () => {
  const phases = { applyMs: 3500, readMs: 6300, knownMs: 2900, diffMs: 1400, analyzeMs: 300, stageWaitMs: 450, totalMs: 14_700 };

  it('in the engine\'s order, the staging wait inside read, then what followed the engine in the step', () => {
    expect(formatPhases({ ...phases, absentMs: 100, checkMs: 200 }, 15_500)).toBe(
      'known 2.9 s, read 6.3 s (of which waiting for staging inserts 0.5 s), analyze 0.3 s, check 0.2 s, absent 0.1 s, diff 1.4 s, apply 3.5 s, ' +
        'commit + output files + summary 0.8 s',
    );
  });

  it('without the step\'s wall time (a take of the e2e bench), the engine\'s own total', () => {
    expect(formatPhases(phases)).toMatch(/, apply 3\.5 s, engine total 14\.7 s$/);
  });
});
