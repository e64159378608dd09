import { EXIT } from './context.js';
import { terminalName, terminalText } from '../text/terminal.js';
import type { DeliveryReport } from '../notify/delivery.js';
import type { RunStatus, RunSummary } from '../store/runs.js';

/** One outbox pass for the operator (`notify deliver`, `poll --once`). */
export function deliveryLine(report: DeliveryReport, pending: number): string {
  const forGood = report.failedPermanently > 0 ? ` (${report.failedPermanently} for good: fix the cause, then hris-ingest notify retry --all-failed)` : '';
  return `delivered ${report.delivered}, skipped ${report.skipped}, failed ${report.failed}${forGood}; ${pending} pending`;
}

/** The run outcome the CLI prints: the engine's RunSummary. */
export type PrintableSummary = RunSummary;
type SummaryStatus = RunStatus;

/** The --json object: every field always present (a file that was not written is null). */
export type JsonSummary = Omit<RunSummary, 'files'> & {
  files: { invites: string | null; updates: string | null; deletions: string | null; errors: string | null };
};

const MAX_JSON_ERRORS = 100;
const MAX_HUMAN_ERRORS = 10;
const MAX_HUMAN_VALUE = 60;

export function exitCodeFor(status: SummaryStatus): number {
  switch (status) {
    case 'accepted':
    case 'duplicate':
      return EXIT.ok;
    case 'rejected':
      return EXIT.rejected;
    case 'held':
      return EXIT.held;
  }
}

export function toJsonSummary(summary: PrintableSummary): JsonSummary {
  const counts = summary.counts;
  return {
    ...(summary.runId !== undefined ? { runId: summary.runId } : {}),
    tenant: summary.tenant,
    file: summary.file,
    status: summary.status,
    rows: summary.rows,
    key: summary.key,
    counts: {
      invites: counts.invites,
      updates: counts.updates,
      deactivations: counts.deactivations,
      reactivations: counts.reactivations,
      deletions: counts.deletions,
      unchanged: counts.unchanged,
      notInvitable: counts.notInvitable,
    },
    errors: summary.errors.slice(0, MAX_JSON_ERRORS).map((e) => ({ line: e.line, column: e.column, value: e.value, message: e.message })),
    errorCount: summary.errorCount,
    warnings: summary.warnings,
    reasons: summary.reasons,
    files: {
      invites: summary.files.invites ?? null,
      updates: summary.files.updates ?? null,
      deletions: summary.files.deletions ?? null,
      errors: summary.files.errors ?? null,
    },
    ...(summary.encryption ? { encryption: summary.encryption } : {}),
    // Added field, with the stored run: a held run made moot by this later accepted run (the status stays "held").
    ...(summary.runId !== undefined && summary.supersededBy !== undefined ? { supersededBy: summary.supersededBy } : {}),
  };
}

const STATUS_TEXT: Record<SummaryStatus, string> = {
  accepted: 'ACCEPTED',
  rejected: 'REJECTED: nothing applied, the snapshot did not move',
  held: 'HELD: nothing applied until an operator approves it',
  duplicate: 'DUPLICATE: same content as an earlier file, nothing to do',
};

function showValue(value: string): string {
  const shown = value.length > MAX_HUMAN_VALUE ? `${value.slice(0, MAX_HUMAN_VALUE)}…` : value;
  return JSON.stringify(shown);
}

/**
 * The operator's summary. It shows error values: the customer's own data back to the operator who
 * holds the file (this goes to stdout, never to the logs).
 */
export interface HumanOptions {
  /** First word of the heading (default: the tenant id). */
  heading?: string;
  /** A preview: nothing was stored, the status is what ingest would do. */
  preview?: boolean;
}

export function formatHumanSummary(summary: PrintableSummary, options: HumanOptions = {}): string {
  const lines: string[] = [];
  const run = summary.runId !== undefined ? ` (run ${summary.runId})` : '';
  lines.push(`${options.heading ?? summary.tenant}: ${terminalName(summary.file)}${run}`);
  lines.push(options.preview ? `  status (preview, nothing stored): ${summary.status.toUpperCase()}` : `  status: ${STATUS_TEXT[summary.status]}`);
  if (summary.status === 'held' && summary.supersededBy != null) {
    lines.push(`  SUPERSEDED by run ${summary.supersededBy}: the tenant's state moved on, this run can no longer be approved or rejected`);
  }
  lines.push(`  rows: ${summary.rows}, key: ${summary.key}`);
  const pgp = summary.encryption;
  if (pgp) lines.push(`  encrypted (OpenPGP${pgp.armored ? ', armoured' : ''}) to ${pgp.keyId ? `our key ${pgp.keyId}` : `key ${pgp.recipients.join(', ') || '(none)'}`}${pgp.signer ? `, signed by ${pgp.signer}` : ''}`);
  // A rejected file was not diffed; a duplicate has nothing to diff.
  if (summary.status === 'accepted' || summary.status === 'held') {
    const c = summary.counts;
    lines.push(
      `  ${summary.status === 'held' ? 'would be: ' : ''}invites ${c.invites}, updates ${c.updates}` +
        ` (deactivations ${c.deactivations}, reactivations ${c.reactivations}), deletions ${c.deletions},` +
        ` unchanged ${c.unchanged}, not invitable ${c.notInvitable}`,
    );
  }
  for (const reason of summary.reasons) lines.push(`  reason: ${reason}`);
  if (summary.errorCount > 0) {
    lines.push(`  errors: ${summary.errorCount}`);
    for (const e of summary.errors.slice(0, MAX_HUMAN_ERRORS)) {
      lines.push(`    line ${e.line}, column ${e.column}${e.value === '' ? '' : `, value ${showValue(e.value)}`}: ${e.message}`);
    }
    if (summary.errorCount > MAX_HUMAN_ERRORS) {
      lines.push(`    … and ${summary.errorCount - MAX_HUMAN_ERRORS} more${summary.files.errors ? ' (all of them in the errors file)' : ''}`);
    }
  }
  for (const warning of summary.warnings) lines.push(`  warning: ${warning}`);
  const files = Object.entries(summary.files).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
  if (files.length > 0) {
    lines.push('  files:');
    for (const [, file] of files) lines.push(`    ${file}`);
  }
  // Each entry is one line: a line break or escape sequence inside one is the customer's (a value, a header).
  return lines.map((line) => terminalText(line)).join('\n');
}

/** Prints SUMMARY (human text, or one JSON line) and returns the exit code of its status. */
export function printRunSummary(
  summary: PrintableSummary,
  options: HumanOptions & { json?: boolean; out?: NodeJS.WritableStream } = {},
): number {
  const out = options.out ?? process.stdout;
  out.write(options.json ? `${JSON.stringify(toJsonSummary(summary))}\n` : `${formatHumanSummary(summary, options)}\n`);
  return exitCodeFor(summary.status);
}
