/** What the file reader (src/csv/read.ts) produces, as the engine consumes it (tests may feed rows directly). */
import type { FileHeader, ReadBatch, ReadTotals } from '../csv/types.js';

export type { FileHeader, InvalidRow, ParsedRow, ReadBatch, ReadTotals, ValidationIssue } from '../csv/types.js';

export interface MembershipSource {
  header: Promise<FileHeader>;
  batches: AsyncIterable<ReadBatch>;
  totals: Promise<ReadTotals>;
}
