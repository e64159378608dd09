import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { parse } from 'csv-parse';
import { ConfigError } from './errors.js';
import { builtInField, canonicalHeader, normalizeHeader } from '../fields/headers.js';

const FIELD_HEADERS = new Set(['field', 'profilefield', 'fieldname', 'hrisfield']);
const VALUE_HEADERS = new Set(['value', 'values', 'attribute', 'attributes', 'uniqueattribute']);
const VISIBILITY_HEADERS = new Set(['visibility', 'public', 'publicprivate']);
const VISIBILITIES = new Set(['', 'public', 'private']);

/**
 * The canonical field a worksheet "field" cell names: a built-in field by name or alias
 * ("Management Level" -> job_function), else the lower snake case of the name (a custom segment).
 */
export function worksheetField(name: string): string {
  return builtInField(name) ?? canonicalHeader(name);
}

/**
 * Reads a CSV export of the data-mapping worksheet: columns field, value and optionally visibility
 * (header row first). A row with a blank field continues the field above it, as worksheets list a field
 * once followed by its values. Returns the allowed values per canonical field, trimmed, without repeats.
 */
export async function loadAllowedValuesCsv(file: string): Promise<Record<string, string[]>> {
  const result: Record<string, string[]> = {};
  // pipeline (not pipe) so that a read error such as ENOENT reaches the loop below instead of hanging it
  const parser = pipeline(
    createReadStream(file),
    parse({ bom: true, relax_column_count: true, trim: true, skip_empty_lines: true, info: true }),
    () => undefined,
  );
  let fieldAt = -1;
  let valueAt = -1;
  let visibilityAt = -1;
  let header = false;
  let current: string | undefined;
  const problems: { path: string; message: string }[] = [];
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = info.lines;
      if (!header) {
        header = true;
        const keys = record.map(normalizeHeader);
        fieldAt = keys.findIndex((k) => FIELD_HEADERS.has(k));
        valueAt = keys.findIndex((k) => VALUE_HEADERS.has(k));
        visibilityAt = keys.findIndex((k) => VISIBILITY_HEADERS.has(k));
        if (fieldAt < 0 || valueAt < 0) {
          throw new ConfigError(file, [
            {
              path: 'line 1',
              message: `expected a header row with columns "field" and "value" (and optionally "visibility"), found: ${record.map((h) => `"${h}"`).join(', ')}`,
            },
          ]);
        }
        continue;
      }
      const fieldName = record[fieldAt] ?? '';
      const value = record[valueAt] ?? '';
      if (fieldName) current = worksheetField(fieldName);
      if (!value) continue;
      if (!current) {
        problems.push({ path: `line ${line}`, message: `value "${value}" has no field: fill in the field column on this row or a row above` });
        continue;
      }
      const visibility = visibilityAt >= 0 ? (record[visibilityAt] ?? '').toLowerCase() : '';
      if (!VISIBILITIES.has(visibility)) {
        problems.push({ path: `line ${line}`, message: `visibility must be "public", "private" or blank, found "${record[visibilityAt]}"` });
      }
      const values = (result[current] ??= []);
      if (!values.includes(value)) values.push(value);
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new ConfigError(file, [{ path: code === 'ENOENT' ? '' : 'csv', message }]);
  }
  if (!header) throw new ConfigError(file, [{ path: '', message: 'the file is empty: expected a header row field,value[,visibility]' }]);
  if (problems.length > 0) throw new ConfigError(file, problems);
  return result;
}
