import type { OpenedFile } from '../csv/open.js';
import type { EncryptionRecord } from '../csv/decrypt.js';
import type { RunEncryption } from '../store/run-encryption.js';
import type { Guardrails, TenantConfig } from '../config/tenant.js';
import type { ValidationIssue } from '../csv/types.js';
import type { Logger } from '../log.js';
import type { RunStatus, RunSummary } from '../store/runs.js';
import { chooseKey } from '../diff/checks.js';
import type { KeyField } from '../diff/types.js';
import { emptyCounts, type DiffCounts } from '../diff/diff.js';
import { fileNameDateWarning } from '../diff/file-name-date.js';
import { isoDay } from '../text/dates.js';
import { guardrailReasons, skippedRowReasons, staleFileReason } from '../diff/guardrails.js';
import { fileDateFromName } from '../output/file-date.js';
import { checkErrors, checkFile, requireKeyInMemory, type CheckOutcome } from './checks.js';
import { diffInMemory, type MemoryDiff } from './diff.js';
import { fatalOf, layoutOf } from './layout.js';
import { mergeIssues } from './merge.js';
import { writeOutputs } from './outputs.js';
import type { MemoryPreviewOptions, Outcome } from './types.js';
export type { MemoryPreviewOptions, Outcome } from './types.js';
import { loadPrevious, type PreviousState } from './previous.js';
import { cleanIssue, scanFile, type FileScan, type MemoryFile } from './scan.js';

/**
 * `preview` with nothing stored involved (a first file, or `--against PREVIOUS`), without any database:
 * the same summary and the same files as the engine's preview (src/pipeline.ts previewOn), with the
 * engine's semantics (src/diff/run.ts, checks.ts, diff.ts, guardrails.ts) computed from compact scans of
 * the files. No row values are held in memory: those of the rows compared or deleted go to a temporary
 * file (src/preview/held.ts), and the files are read again to write the outputs (test/diff.memory.test.ts compares both engines on fixtures and random files).
 */
export async function previewInMemory(tenant: TenantConfig, file: MemoryFile, options: MemoryPreviewOptions = {}): Promise<RunSummary> {
  const started = performance.now();
  const previous = options.against ? await loadPrevious(options.against, tenant, options.onProgress) : null;
  const opened: OpenedFile = {};
  const scan = await scanFile(file, tenant, { match: previous?.match, onProgress: options.onProgress, opened });
  const outcome = await decide(tenant, file, scan, previous, options.against);
  const files = await writeOutputs({ tenant, file, scan, previous, outcome, options });
  holdIfStale(outcome);
  const errors: ValidationIssue[] = [];
  for (const issue of mergeIssues(scan.issues, outcome.laterErrors())) {
    if (errors.length === 100) break;
    errors.push(issue);
  }
  options.logger?.info(
    { tenant: tenant.id, file: file.name, status: outcome.status, rows: scan.totals.records, errors: outcome.errorCount, ms: Math.round(performance.now() - started) },
    'preview finished (no database)',
  );
  return {
    runId: undefined,
    tenant: tenant.id,
    file: file.name,
    status: outcome.status,
    rows: scan.totals.records,
    key: outcome.key ?? 'email',
    counts: outcome.counts,
    errors,
    errorCount: outcome.errorCount,
    warnings: outcome.warnings,
    reasons: outcome.reasons,
    files,
    // As the engine's preview reports it: a run that was never stored was never superseded.
    supersededBy: null,
    ...(opened.encryption ? { encryption: runEncryption(opened.encryption) } : {}),
  };
}

/** What a run records of its file's encryption (as src/store/run-encryption.ts stores it). */
function runEncryption({ armored, recipients, fingerprint, keyId, signer }: EncryptionRecord): RunEncryption {
  return { armored, recipients, fingerprint, keyId, signer };
}

/** As the engine's guardrails: a file dated before PREVIOUS is held, with both dates and its final counts. */
function holdIfStale(outcome: Outcome): void {
  if (!outcome.stale) return;
  const reason = staleFileReason({ ...outcome.stale, counts: outcome.counts });
  if (!reason) return;
  outcome.reasons.splice(outcome.stale.at, 0, reason);
  if (outcome.status === 'accepted') outcome.status = 'held';
}

/** The run's status, key, counts (before the comparisons), warnings and reasons, as src/diff/run.ts decides them. */
async function decide(tenant: TenantConfig, file: MemoryFile, scan: FileScan, previous: PreviousState | null, against?: MemoryFile): Promise<Outcome> {
  // As src/diff/run.ts records them: the header's, the file-name date's (the policy's are added below).
  const warnings = [...scan.header.warnings, ...fileNameDateWarning(file.name, { fileDate: fileDateFromName(file.name) })];
  const fatal = fatalOf(scan);
  if (fatal) {
    return {
      status: 'rejected',
      key: null,
      counts: emptyCounts(),
      errorCount: scan.stats.errorCount + 1,
      warnings,
      reasons: [`the file could not be read: ${fatal.message} (line ${fatal.line})`],
      laterErrors: () => [cleanIssue(fatal)],
    };
  }
  const layout = layoutOf(scan.header.columns);
  const checks = await checkFile(file, tenant, scan, { email: layout.email >= 0, employeeId: layout.employeeId >= 0 });
  // As the engine's establishedKey: a previous state with no member proved nothing about the key.
  const key = chooseKey(layout, scan.stats, tenant.key, previous && previous.members > 0 ? previous.key : null);
  requireKeyInMemory(scan, key, checks);
  const invalid = scan.stats.invalidRows + checks.invalidated;
  const errorCount = scan.stats.errorCount + checks.errors;
  const laterErrors = () => checkErrors(scan, checks, layout.employeeId >= 0);
  const base = { key, errorCount, warnings, laterErrors };
  if (invalid > 0 && tenant.invalidRows === 'reject') {
    const reasons = [
      `${invalid.toLocaleString('en-US')} invalid row(s), ${errorCount.toLocaleString('en-US')} error(s): ` +
        'the file is rejected as a whole (invalid-row policy "reject"); nothing was applied',
    ];
    return { ...base, status: 'rejected', counts: emptyCounts(), reasons };
  }
  const diff = diffInMemory(scan, previous);
  const day = (name: string) => {
    const date = fileDateFromName(name);
    return date ? isoDay(date) : null;
  };
  const reasons = guardrailReasons(tenant.guardrails as Guardrails, {
    records: scan.totals.records,
    deletions: diff.counts.deletions,
    onPlatformBefore: diff.onPlatformBefore,
    previousRows: previous ? previous.records : null,
    keptOut: diff.keptOut,
  });
  // The stale-file reason names the final counts, known once the outputs are written: it goes in there.
  const stale = { at: reasons.length, fileDate: day(file.name), previous: previous && against ? { runId: null, fileDate: day(against.name) } : null };
  if (invalid > 0) skipWarnings(warnings, reasons, { invalid, key, diff, scan, checks });
  return { ...base, status: reasons.length > 0 ? 'held' : 'accepted', counts: diff.counts, reasons, diff, stale };
}

/** The invalid-row policy "skip": the warning, and the reason to hold when deleted members may be among the invalid rows. */
function skipWarnings(
  warnings: string[],
  reasons: string[],
  input: { invalid: number; key: KeyField; diff: MemoryDiff; scan: FileScan; checks: CheckOutcome },
): void {
  const { invalid, key, diff, scan, checks } = input;
  const withoutKey = key === 'email' ? scan.stats.invalidWithoutEmail : scan.stats.invalidWithoutEmployeeId + checks.missingKey;
  warnings.push(
    `${invalid.toLocaleString('en-US')} invalid row(s) skipped (invalid-row policy "skip"); ` +
      `${diff.carried.toLocaleString('en-US')} stored member(s) carried forward unchanged`,
  );
  let sharedKey = 0;
  for (const group of checks.groups[key].values()) if (group.mixed) sharedKey += group.n;
  reasons.push(...skippedRowReasons({ key, withoutKey, unmatched: scan.stats.invalidUnmatched, sharedKey, deletions: diff.counts.deletions }));
}
