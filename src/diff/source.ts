/** What the file reader (src/csv/read.ts) produces, as the engine consumes it (tests may feed rows directly). */
import type { FileHeader, ReadBatch, ReadTotals } from '../csv/types.js';

export type { FileHeader, InvalidRow, ParsedRow, ReadBatch, ReadTotals, ValidationIssue } from '../csv/types.js';

export interface MembershipSource {
  header: Promise<FileHeader>;
  batches: AsyncIterable<ReadBatch>;
  totals: Promise<ReadTotals>;
}

/** The file's header text of FIELD's column, as errors name it (the canonical name when it has none). */
export function columnHeader(header: FileHeader, field: string): string {
  const index = header.columns.indexOf(field);
  return (index >= 0 ? header.names?.[index] : undefined) ?? field;
}
