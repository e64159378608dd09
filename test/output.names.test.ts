import { describe, expect, it } from 'vitest';
import { fileDateFromName } from '../src/output/file-date.js';
import { outputFileName } from '../src/output/names.js';

const ymd = (d: Date | null) =>
  d ? `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}` : null;

describe('file date from the file name', () => {
  it('reads MM.DD.YYYY as in the set-up guide', () => {
    expect(ymd(fileDateFromName('Acme Corp - 10KC Membership File - 01.13.2023.csv'))).toBe('2023-01-13');
    expect(ymd(fileDateFromName('/inbox/acme-12-31-2024.csv'))).toBe('2024-12-31');
  });
  it('reads ISO YYYY-MM-DD', () => {
    expect(ymd(fileDateFromName('members 2023-02-01.csv'))).toBe('2023-02-01');
  });
  it('gives null for no date or an impossible one', () => {
    expect(fileDateFromName('members.csv')).toBeNull();
    expect(fileDateFromName('members 02.30.2023.csv')).toBeNull();
    expect(fileDateFromName('members 13.01.2023.csv')).toBeNull();
    expect(fileDateFromName('members 2023-13-01.csv')).toBeNull();
  });
});

describe('output file names', () => {
  it('carry tenant, date and kind', () => {
    const date = new Date(2023, 0, 13);
    expect(outputFileName('acme', date, 'invites')).toBe('acme 2023-01-13 potential invites.csv');
    expect(outputFileName('acme', date, 'updates')).toBe('acme 2023-01-13 profile updates.csv');
    expect(outputFileName('acme', date, 'deletions')).toBe('acme 2023-01-13 profile deletions.csv');
    expect(outputFileName('acme', date, 'errors')).toBe('acme 2023-01-13 validation errors.csv');
    expect(outputFileName('acme', null, 'updates')).toBe('acme profile updates.csv');
  });
});
