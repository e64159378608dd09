import { describe, expect, it } from 'vitest';
import { previewResult } from '../src/web/preview.js';
import type { RunSummary } from '../src/store/runs.js';

const summary = (overrides: Partial<RunSummary>): RunSummary => ({
  tenant: 'acme',
  file: 'members - 01.13.2023.csv',
  status: 'held',
  rows: 10,
  key: 'employee_id',
  counts: { invites: 0, updates: 0, deactivations: 0, reactivations: 0, deletions: 9, unchanged: 1, notInvitable: 0 },
  errors: [],
  errorCount: 0,
  warnings: [],
  reasons: [],
  files: {},
  ...overrides,
});

describe("the console's preview result", () => {
  it('lists at most 50 reasons and warnings, then "... and N more", each escaped', () => {
    const page = previewResult(
      summary({
        reasons: Array.from({ length: 60 }, (_, i) => `reason ${i} <b>`),
        warnings: Array.from({ length: 53 }, (_, i) => `warning ${i}`),
      }),
      'token',
      new Date('2026-12-03T12:00:00Z'),
    ).toString();
    expect(page).toContain('<li>reason 49 &lt;b&gt;</li>');
    expect(page).not.toContain('reason 50 ');
    expect(page).toContain('<li>... and 10 more</li>');
    expect(page).toContain('<li>warning 49</li>');
    expect(page).not.toContain('warning 50');
    expect(page).toContain('<li>... and 3 more</li>');
  });
});
