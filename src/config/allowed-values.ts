import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { ConfigError } from './errors.js';
import { canonicalHeader } from '../spec/headers.js';

/**
 * Reads a CSV export of the data-mapping worksheet: columns field, value, visibility (header row first).
 * Returns allowed values per canonical field.
 */
export async function loadAllowedValuesCsv(file: string): Promise<Record<string, string[]>> {
  const result: Record<string, string[]> = {};
  const parser = createReadStream(file).pipe(parse({ bom: true, relax_column_count: true, trim: true }));
  let header: string[] | undefined;
  let line = 0;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      line += 1;
      if (!header) {
        header = record.map((h) => h.toLowerCase());
        if (!header.includes('field') || !header.includes('value')) {
          throw new ConfigError(file, [{ path: 'line 1', message: 'expected a header row with columns "field" and "value" (and optionally "visibility")' }]);
        }
        continue;
      }
      const field = record[header.indexOf('field')] ?? '';
      const value = record[header.indexOf('value')] ?? '';
      if (!field || !value) continue;
      const canonical = canonicalHeader(field);
      (result[canonical] ??= []).push(value);
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(file, [{ path: `line ${line + 1}`, message: (error as Error).message }]);
  }
  return result;
}
