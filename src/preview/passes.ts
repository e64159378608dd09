import type { TenantConfig } from '../config/tenant.js';
import { openMembershipFile } from '../csv/open.js';
import type { InvalidRow, ParsedRow } from '../csv/types.js';
import type { DiffCounts } from '../diff/diff.js';
import { blankValue } from '../fields/fields.js';
import type { CsvOut } from './csv-out.js';
import type { HeldRows } from './held.js';
import type { IssueMerger } from './merge.js';
import { BATCH_SIZE, cleanIssue, INVITABLE, ON_PLATFORM, VALID, inLineOrder, withoutNul, type FileScan, type MemoryFile } from './scan.js';

/** Reads FILE again, calling VISIT with each row and its index (the scan's order: line order). */
export async function eachRow(
  file: MemoryFile,
  tenant: TenantConfig,
  visit: (row: ParsedRow | InvalidRow, index: number) => void,
  afterBatch?: () => Promise<void>,
): Promise<void> {
  const reading = openMembershipFile(file, tenant, { batchSize: BATCH_SIZE });
  reading.header.catch(() => undefined);
  reading.totals.catch(() => undefined);
  let index = 0;
  for await (const batch of reading.batches) {
    for (const row of inLineOrder(batch.rows, batch.invalid)) visit(row, index++);
    await afterBatch?.();
  }
  await reading.totals;
}

/** A row's values in COLUMNS, as the engine stores them (a missing field is '', NUL becomes U+FFFD). */
export function valuesIn(values: Readonly<Record<string, string>>, columns: readonly string[], present?: ReadonlySet<string>): string[] {
  return columns.map((c) => (present && !present.has(c) ? '' : withoutNul(values[c] ?? '')));
}

/**
 * PREVIOUS read again for the members NEEDED (compared or deleted): each one's stored row as the engine's
 * renderer and comparison see it, in the next file's COLUMNS (a field PREVIOUS lacks is ''), put in HELD
 * (on disk).
 */
export async function previousRows(
  file: MemoryFile,
  tenant: TenantConfig,
  previousColumns: string[],
  needed: Uint8Array,
  columns: string[],
  held: HeldRows,
): Promise<void> {
  const present = new Set(previousColumns);
  await eachRow(file, tenant, (row, member) => {
    if (needed[member]) held.add(member, valuesIn(row.values, columns, present));
  });
}

export interface ChangeOutputs {
  invites: CsvOut;
  updates: CsvOut;
}

/**
 * The next file read again: the rows to compare are compared with their held previous rows (update or a
 * silent refresh, src/diff/diff.ts), and, when asked, the invites and updates are written in line order
 * and the reader's issues merged with the checks' into the errors file.
 */
export async function changesPass(
  file: MemoryFile,
  tenant: TenantConfig,
  scan: FileScan,
  compare: { rows: Int32Array; held: HeldRows | null },
  counts: DiffCounts,
  out: { changes?: ChangeOutputs; errors?: IssueMerger; flush: () => Promise<void> },
): Promise<void> {
  const columns = scan.header.columns;
  const blanks = columns.map(blankValue);
  const status = columns.indexOf('status');
  let next = 0;
  await eachRow(
    file,
    tenant,
    (row, i) => {
      if ('issues' in row) {
        if (out.errors) for (const issue of row.issues) out.errors.push(cleanIssue(issue));
        return;
      }
      const flags = scan.flags[i]!;
      const comparing = next < compare.rows.length && compare.rows[next] === i;
      if (comparing) next++;
      if (!(flags & VALID)) return;
      if (out.changes && flags & INVITABLE && !(flags & ON_PLATFORM)) out.changes.invites.add(valuesIn(row.values, columns));
      if (!comparing) return;
      const values = valuesIn(row.values, columns);
      const before = compare.held!.get(scan.member![i]!);
      // A field PREVIOUS lacks is held as '' (its deletions row shows it so) and compares as a blank cell
      // would be stored (blankValue: en-US for locale), as the engine's changedFieldsSql.
      const changed = columns.filter((_, c) => values[c] !== (before[c] === '' ? blanks[c] : before[c]));
      if (changed.length === 0) return; // same fields under another hash: a silent refresh
      const type = changeType(status, before, values);
      counts.updates++;
      counts.unchanged--;
      if (type === 'deactivation') counts.deactivations++;
      if (type === 'reactivation') counts.reactivations++;
      out.changes?.updates.add([...values, type, changed.join(';')]);
    },
    out.flush,
  );
}

/** Deactivation / reactivation only when the file carries a status column (src/diff/diff.ts). */
function changeType(status: number, before: string[], after: string[]): 'update' | 'deactivation' | 'reactivation' {
  if (status < 0) return 'update';
  if (before[status] !== 'inactive' && after[status] === 'inactive') return 'deactivation';
  if (before[status] === 'inactive' && after[status] !== 'inactive') return 'reactivation';
  return 'update';
}
