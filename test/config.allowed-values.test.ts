import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadAllowedValuesCsv, worksheetField } from '../src/config/allowed-values.js';
import { ConfigError } from '../src/config/errors.js';

const dir = mkdtempSync(path.join(tmpdir(), 'allowed-values-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  const target = path.join(dir, name);
  writeFileSync(target, text);
  return target;
}

describe('loadAllowedValuesCsv (the data-mapping worksheet export)', () => {
  test('reads field, value, visibility; maps field names through the aliases; trims and drops repeats', async () => {
    const values = await loadAllowedValuesCsv(
      file('worksheet.csv', '\ufeffField,Value,Visibility\nManagement Level, Director ,public\nManagement Level,VP,public\nManagement Level,VP,public\nDepartment,Finance,private\nCost Center,CC-1,private\n'),
    );
    expect(values).toEqual({ job_function: ['Director', 'VP'], business_unit: ['Finance'], cost_center: ['CC-1'] });
  });

  test('a blank field continues the field above, as worksheets list a field once', async () => {
    const values = await loadAllowedValuesCsv(file('carry.csv', 'Profile Field,Values\nJob Function,Engineering\n,Sales\n\n,Legal\nGender,Female\n,Male\n'));
    expect(values).toEqual({ job_function: ['Engineering', 'Sales', 'Legal'], gender: ['Female', 'Male'] });
  });

  test('the tenant fixture worksheet', async () => {
    const values = await loadAllowedValuesCsv(path.resolve(import.meta.dirname, '../fixtures/tenants/segments-worksheet.csv'));
    expect(values.business_unit).toEqual(['Technology', 'Corporate Services', 'People & Culture']);
    expect(values.office_location).toEqual(['Toronto', 'Montreal']);
  });

  test('a missing field/value header names the file and what is expected', async () => {
    const target = file('bad-header.csv', 'Segment,Option\nJob Function,Engineering\n');
    const error = await loadAllowedValuesCsv(target).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).file).toBe(target);
    expect((error as ConfigError).message).toContain('line 1: expected a header row with columns "field" and "value"');
    expect((error as ConfigError).message).toContain('found: "Segment", "Option"');
  });

  test('a value before any field, and an unknown visibility, are reported with their lines', async () => {
    const target = file('bad-rows.csv', 'field,value,visibility\n,Orphan,public\nJob Function,Engineering,secret\n');
    const error = (await loadAllowedValuesCsv(target).catch((e: unknown) => e)) as ConfigError;
    expect(error.problems).toEqual([
      { path: 'line 2', message: 'value "Orphan" has no field: fill in the field column on this row or a row above' },
      { path: 'line 3', message: 'visibility must be "public", "private" or blank, found "secret"' },
    ]);
  });

  test('a missing file and an empty file are config errors naming the file', async () => {
    const missing = path.join(dir, 'nope.csv');
    await expect(loadAllowedValuesCsv(missing)).rejects.toThrow(`invalid configuration in ${missing}`);
    await expect(loadAllowedValuesCsv(missing)).rejects.toThrow('file not found');
    await expect(loadAllowedValuesCsv(file('empty.csv', ''))).rejects.toThrow('the file is empty');
  });

  test('worksheetField', () => {
    expect(worksheetField('Supervisor Organization')).toBe('business_unit');
    expect(worksheetField('Badge Colour')).toBe('badge_colour');
  });
});
