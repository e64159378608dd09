import type { ValidationIssue } from '../csv/types.js';
import type { DiffCounts } from '../diff/diff.js';
import type { KeyField } from '../diff/types.js';
import type { Logger } from '../log.js';
import type { RunStatus } from '../store/runs.js';
import type { MemoryDiff } from './diff.js';
import type { MemoryFile } from './scan.js';

/** Shapes shared by preview.ts and outputs.ts (imports nothing of theirs). */
export interface MemoryPreviewOptions {
  against?: MemoryFile;
  outDir?: string;
  logger?: Logger;
  onProgress?: (records: number) => void;
}

/** What the run would record, before its files are written. */
export interface Outcome {
  status: RunStatus;
  key: KeyField | null;
  counts: DiffCounts;
  errorCount: number;
  warnings: string[];
  reasons: string[];
  /** The errors after the reader's: the fatal problem, or the checks'. */
  laterErrors: () => Iterable<ValidationIssue>;
  diff?: MemoryDiff;
  /** Where the stale-file reason goes among the reasons, and the two file dates (yyyy-MM-dd). */
  stale?: { at: number; fileDate: string | null; previous: { runId: null; fileDate: string | null } | null };
}

