/**
 * Shapes shared across the layers (docs/INTERNALS.md): a file's rows and issues (made by src/fields/ and
 * src/csv/, stored by src/store/, used by the engine) and a run's counts (made by src/diff/, stored by
 * src/store/, shown by src/notify/). Types only; imports nothing, so every layer may import it.
 */

export interface ValidationIssue {
  /** 1-based physical line where the record starts (header = line 1). */
  line: number;
  /** The file's own header text of the column ('' for a problem with the whole row or file). */
  column: string;
  value: string;
  message: string;
  /** The canonical field of the column, when the problem is that one value's (absent for the whole row's). */
  field?: string;
}

export interface ParsedRow {
  line: number;
  /** Canonical field -> trimmed, normalised value ('' when blank). */
  values: Record<string, string>;
}

export interface InvalidRow {
  line: number;
  values: Record<string, string>;
  issues: ValidationIssue[];
}

/** A run's outcome counts (the diff's result; runs.counts in the database). */
export interface DiffCounts {
  invites: number;
  updates: number;
  deactivations: number;
  reactivations: number;
  deletions: number;
  unchanged: number;
  notInvitable: number;
}

/**
 * Invites of stored members not on the platform whose stored status is inactive / eligibility ineligible,
 * in a file without that column (each 0 when the file has the column).
 */
export interface KeptOutInvites {
  inactive: number;
  ineligible: number;
}
