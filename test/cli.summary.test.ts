import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { exitCodeFor, formatHumanSummary, printRunSummary, toJsonSummary, type PrintableSummary } from '../src/cli/summary.js';

function summary(overrides: Partial<PrintableSummary> = {}): PrintableSummary {
  return {
    tenant: 'acme',
    file: 'members - 01.13.2023.csv',
    status: 'accepted',
    rows: 12,
    key: 'employee_id',
    counts: { invites: 3, updates: 2, deactivations: 1, reactivations: 0, deletions: 1, unchanged: 6, notInvitable: 0 },
    errors: [],
    errorCount: 0,
    warnings: [],
    reasons: [],
    files: { invites: 'out/acme 2023-01-13 potential invites.csv' },
    ...overrides,
  };
}

function issues(n: number) {
  return Array.from({ length: n }, (_, i) => ({ line: i + 2, column: 'email', value: `bad${i}`, message: 'not a valid email address' }));
}

describe('exit codes', () => {
  it('maps each status to the contract code', () => {
    expect(exitCodeFor('accepted')).toBe(0);
    expect(exitCodeFor('duplicate')).toBe(0);
    expect(exitCodeFor('rejected')).toBe(2);
    expect(exitCodeFor('held')).toBe(3);
  });
});

describe('JSON summary', () => {
  it('always carries every field, files not written as null', () => {
    const json = toJsonSummary(summary());
    expect(Object.keys(json).sort()).toEqual(
      ['counts', 'errorCount', 'errors', 'file', 'files', 'key', 'reasons', 'rows', 'status', 'tenant', 'warnings'].sort(),
    );
    expect(json.files).toEqual({ invites: 'out/acme 2023-01-13 potential invites.csv', updates: null, deletions: null, errors: null });
    expect(Object.keys(json.counts).sort()).toEqual(
      ['deactivations', 'deletions', 'invites', 'notInvitable', 'reactivations', 'unchanged', 'updates'].sort(),
    );
  });

  it('adds runId when the run was stored', () => {
    expect(toJsonSummary(summary({ runId: 7 })).runId).toBe(7);
  });

  it('keeps only the first 100 errors but the full count', () => {
    const json = toJsonSummary(summary({ status: 'rejected', errors: issues(150), errorCount: 150 }));
    expect(json.errors).toHaveLength(100);
    expect(json.errors[0]).toEqual({ line: 2, column: 'email', value: 'bad0', message: 'not a valid email address' });
    expect(json.errorCount).toBe(150);
  });

  it('prints one JSON line and returns the status exit code', () => {
    const out = new PassThrough();
    const code = printRunSummary(summary({ status: 'held', reasons: ['would delete 40 of 60'] }), { json: true, out });
    const text = String(out.read());
    expect(text.trimEnd().split('\n')).toHaveLength(1);
    expect(JSON.parse(text).reasons).toEqual(['would delete 40 of 60']);
    expect(code).toBe(3);
  });
});

describe('human summary', () => {
  it('shows status, rows, counts and the files', () => {
    const text = formatHumanSummary(summary());
    expect(text).toContain('ACCEPTED');
    expect(text).toContain('rows: 12, key: employee_id');
    expect(text).toContain('invites 3, updates 2 (deactivations 1, reactivations 0), deletions 1, unchanged 6, not invitable 0');
    expect(text).toContain('out/acme 2023-01-13 potential invites.csv');
  });

  it('lists the first 10 errors with line, column, value and reason, then how many more', () => {
    const text = formatHumanSummary(summary({ status: 'rejected', errors: issues(12), errorCount: 12, files: { errors: 'out/e.csv' } }));
    expect(text).toContain('REJECTED');
    expect(text).toContain('line 2, column email, value "bad0": not a valid email address');
    expect(text).toContain('line 11, column email, value "bad9"');
    expect(text).not.toContain('"bad10"');
    expect(text).toContain('and 2 more (all of them in the errors file)');
  });

  it('shows the reasons of a held run and what it would do', () => {
    const text = formatHumanSummary(summary({ status: 'held', reasons: ['would delete 40 of 60 members'] }));
    expect(text).toContain('HELD');
    expect(text).toContain('reason: would delete 40 of 60 members');
    expect(text).toContain('would be: invites 3');
  });
});

describe('human summary of special cases', () => {
  it('a rejected file shows no diff counts (it was not diffed)', () => {
    const text = formatHumanSummary(summary({ status: 'rejected', errors: issues(1), errorCount: 1 }));
    expect(text).not.toMatch(/invites \d/);
    expect(text).toContain('line 2, column email');
  });

  it('a preview says nothing was stored', () => {
    const text = formatHumanSummary(summary(), { heading: 'preview', preview: true });
    expect(text.split('\n')[0]).toBe('preview: members - 01.13.2023.csv');
    expect(text).toContain('status (preview, nothing stored): ACCEPTED');
  });

  it('shortens a very long error value', () => {
    const text = formatHumanSummary(summary({ status: 'rejected', errors: [{ line: 5, column: 'city', value: 'x'.repeat(500), message: 'too long' }], errorCount: 1 }));
    expect(text).toContain(`"${'x'.repeat(60)}…"`);
    expect(text).not.toContain('x'.repeat(61));
  });
});

describe('customer text in the human summary', () => {
  it('a file name, a value or a header with escape sequences or line breaks prints as escapes, one line each', () => {
    const hostile = 'x\u001b[2J\nACCEPTED\u001b]8;;http://evil\u0007.csv';
    const plain = formatHumanSummary(summary({ errors: [], errorCount: 0 }));
    const text = formatHumanSummary(
      summary({
        file: hostile,
        status: 'rejected',
        errorCount: 1,
        errors: [{ line: 2, column: 'city\nACCEPTED', value: 'v\u001b[31m', message: 'bad value "\u001b[0m"' }],
        warnings: ['unknown column "a\rb"'],
      }),
    );
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(text.split('\n').filter((line) => line.includes('ACCEPTED'))).toEqual([
      'acme: x\\x1b[2J\\nACCEPTED\\x1b]8;;http://evil\\x07.csv',
      '    line 2, column city\\nACCEPTED, value "v\\u001b[31m": bad value "\\x1b[0m"',
    ]);
    expect(plain.split('\n')[0]).toBe('acme: members - 01.13.2023.csv');
  });
});

