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
