import { describe, expect, it } from 'vitest';
import { tenantConfigSchema } from '../src/config/tenant.js';
import { timestampedName } from '../src/drop/archive.js';
import { isCandidateName, orderFiles } from '../src/drop/discovery.js';
import { fileDateFromName } from '../src/output/file-date.js';
import { sha256Fingerprint } from '../src/drop/fingerprint.js';
import { tenantLayout } from '../src/drop/layout.js';

describe('drop discovery', () => {
  it('takes *.csv in any case and ignores dotfiles and in-progress names', () => {
    expect(['a.csv', 'B.CSV', 'All Active Personnel - 01.13.2023.csv', 'x.Csv'].every(isCandidateName)).toBe(true);
    for (const name of ['.a.csv', 'a.csv.part', 'a.csv.filepart', 'a.csv.tmp', 'a.csv.partial', 'a.part.csv', 'a.tmp.csv', 'a.txt', 'a.csv.gz', 'csv']) {
      expect(isCandidateName(name), name).toBe(false);
    }
  });

  it('reads MM.DD.YYYY and ISO dates from file names, and only real calendar dates', () => {
    expect(fileDateFromName('All Active Personnel - 01.13.2023.csv')).toEqual(new Date(2023, 0, 13));
    expect(fileDateFromName('export 2023-02-28.csv')).toEqual(new Date(2023, 1, 28));
    expect(fileDateFromName('export_03-05-2023.csv')).toEqual(new Date(2023, 2, 5));
    expect(fileDateFromName('export 02.30.2023.csv')).toBeNull();
    expect(fileDateFromName('export 2023-13-01.csv')).toBeNull();
    expect(fileDateFromName('people.csv')).toBeNull();
  });

  it('orders by the date the run gets from the name: a name whose first MM.DD.YYYY is no date counts by its upload day', () => {
    // The drop once read its own way (the first real date anywhere in the name: 01.14.2023 here) while the
    // run took none: the file was ordered as of January 2023 and then run as undated.
    const day = (d: number) => Date.UTC(2024, 5, d) / 1000;
    const odd = { name: 'acme - 13.01.2023 then 01.14.2023.csv', size: 1, mtime: day(10) };
    const dated = { name: 'acme - 06.05.2024.csv', size: 1, mtime: day(11) };
    expect(fileDateFromName(odd.name)).toBeNull();
    expect(orderFiles([odd, dated]).map((f) => f.name)).toEqual([dated.name, odd.name]);
  });

  it('orders oldest first by the name date, then by mtime, then by name', () => {
    const jan20 = { name: 'a - 01.20.2023.csv', size: 1, mtime: 100 };
    const jan6 = { name: 'b 2023-01-06.csv', size: 1, mtime: 300 };
    const jan13late = { name: 'c - 01.13.2023.csv', size: 1, mtime: 500 };
    const jan13early = { name: 'd - 01.13.2023.csv', size: 1, mtime: 400 };
    // No date in the name: its upload day counts (1970-01-01 here, so first).
    const undated = { name: 'people.csv', size: 1, mtime: 50 };
    expect(orderFiles([jan20, jan6, jan13late, jan13early, undated]).map((f) => f.name)).toEqual([
      'people.csv',
      'b 2023-01-06.csv',
      'd - 01.13.2023.csv',
      'c - 01.13.2023.csv',
      'a - 01.20.2023.csv',
    ]);
  });

  it('lays out a tenant: /<tenant>/inbox with processed/ and rejected/ beside it, or as configured', () => {
    expect(tenantLayout(tenantConfigSchema.parse({ id: 'acme', name: 'Acme' }))).toEqual({
      inbox: '/acme/inbox',
      processed: '/acme/processed',
      rejected: '/acme/rejected',
    });
    expect(tenantLayout(tenantConfigSchema.parse({ id: 'acme', name: 'Acme', drop: { inbox: '/upload/hr/' } }))).toEqual({
      inbox: '/upload/hr',
      processed: '/upload/processed',
      rejected: '/upload/rejected',
    });
    expect(tenantLayout(tenantConfigSchema.parse({ id: 'acme', name: 'Acme', drop: { inbox: '/in', processed: '/done', rejected: '/bad' } }))).toEqual({
      inbox: '/in',
      processed: '/done',
      rejected: '/bad',
    });
  });

  it('gives a clashing name a timestamp, keeping the extension', () => {
    expect(timestampedName('people - 01.13.2023.csv', new Date(2026, 10, 23, 12, 5, 9))).toBe('people - 01.13.2023 20261123T120509.csv');
  });

  it('prints fingerprints without base64 padding, as ssh-keygen does', () => {
    expect(sha256Fingerprint(Buffer.from('abc'))).toBe('SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0');
  });
});
