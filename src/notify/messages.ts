/**
 * The alert of every outcome, as Block Kit plus a plain-text fallback. Pure functions of what is stored.
 *
 * Privacy: a message names the tenant, the file, counts, line numbers, column names and reasons. It never
 * carries a cell value (member data must not end up in Slack's message history or our logs): where a
 * reason quotes the value, the value is masked. The attached `validation errors.csv` carries the values
 * for whoever must fix the file.
 */
import type { DiffCounts } from '../diff/diff.js';
import type { RunStatus } from '../store/runs.js';
import type { AlertMessage, Block } from './notifier.js';

export interface RunErrorView {
  line: number | null;
  column: string | null;
  /** Only used to mask the value where the reason quotes it; never shown. */
  value: string | null;
  message: string;
}

export interface RunView {
  id: number;
  tenantId: string;
  fileName: string;
  fileDate: Date | null;
  /** The status when the alert was queued (a held run's first alert stays "held"). */
  status: RunStatus;
  /** The status now (a held run may since have been approved or rejected). */
  currentStatus: RunStatus;
  rows: number;
  counts: DiffCounts;
  errorCount: number;
  /** First errors in line order (the caller decides how many to load). */
  errors: RunErrorView[];
  reasons: string[];
  warnings: string[];
  decidedBy: string | null;
  duplicateOf: number | null;
  /** Earlier accepted runs of the tenant not marked applied to the platform (console), oldest first. */
  unappliedEarlier?: number[];
}

export interface MessageOptions {
  /** Public dashboard URL (AppConfig.http.dashboardUrl): adds a link to the run. */
  dashboardUrl?: string;
  /** Errors listed in a rejected alert (default 10). */
  maxErrors?: number;
  /** tenant.notifyDuplicates (default true): false = no message for a duplicate. */
  notifyDuplicates?: boolean;
  /** Channel override for the tenant. */
  channel?: string;
  /** The CLI name in approval instructions. */
  cliName?: string;
}

const CLI = 'hris-ingest';
const number = (n: number) => n.toLocaleString('en-US');
const plural = (n: number, one: string, many = `${one}s`) => `${number(n)} ${n === 1 ? one : many}`;

/** Slack mrkdwn needs &, < and > escaped; everything we interpolate goes through this. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Inline code that survives a backtick in the text. */
function code(text: string): string {
  return `\`${escapeMrkdwn(text.replace(/`/g, "'"))}\``;
}

const EMAIL_LIKE = /[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+/g;

/** A reason with the offending value (and anything that looks like an email address) masked. */
export function maskValue(message: string, value: string | null): string {
  let masked = message;
  const trimmed = value?.trim() ?? '';
  if (trimmed.length > 0) masked = masked.split(trimmed).join('[value]');
  // The spec's own example address in a reason stays readable.
  return masked.replace(EMAIL_LIKE, (found) => (found === 'name@company.com' ? found : '[email]'));
}

export function runUrl(dashboardUrl: string | undefined, runId: number): string | undefined {
  if (!dashboardUrl) return undefined;
  return `${dashboardUrl.replace(/\/+$/, '')}/runs/${runId}`;
}

function fileLine(run: RunView): string {
  const date = run.fileDate ? ` (file date ${isoDate(run.fileDate)})` : '';
  return `*File:* ${code(run.fileName)}${date}\n*Rows:* ${number(run.rows)}`;
}

function isoDate(date: Date): string {
  // file_date is a SQL date; pg gives it as local midnight.
  const y = date.getFullYear();
  const m = String(date.getMonth() + 1).padStart(2, '0');
  const d = String(date.getDate()).padStart(2, '0');
  return `${y}-${m}-${d}`;
}

function countFields(counts: DiffCounts): Block {
  return {
    type: 'section',
    text: { type: 'mrkdwn', text: '*Changes* (updates include deactivations and reactivations)' },
    fields: [
      { type: 'mrkdwn', text: `*Invites:* ${number(counts.invites)}` },
      { type: 'mrkdwn', text: `*Updates:* ${number(counts.updates)}` },
      { type: 'mrkdwn', text: `*Deactivations:* ${number(counts.deactivations)}` },
      { type: 'mrkdwn', text: `*Reactivations:* ${number(counts.reactivations)}` },
      { type: 'mrkdwn', text: `*Deletions:* ${number(counts.deletions)}` },
      { type: 'mrkdwn', text: `*Unchanged:* ${number(counts.unchanged)}` },
    ],
  };
}

function countsText(counts: DiffCounts): string {
  return (
    `${plural(counts.invites, 'invite')}, ${plural(counts.updates, 'update')} ` +
    `(${plural(counts.deactivations, 'deactivation')}, ${plural(counts.reactivations, 'reactivation')}), ` +
    `${plural(counts.deletions, 'deletion')}`
  );
}

function runContext(run: RunView, options: MessageOptions, extra: string[] = []): Block {
  const url = runUrl(options.dashboardUrl, run.id);
  const parts = [`Run ${run.id}`, `tenant ${code(run.tenantId)}`, ...(url ? [`<${url}|open in the dashboard>`] : []), ...extra];
  const elements = [{ type: 'mrkdwn' as const, text: parts.join(' · ') }];
  // File-level warnings quote header texts; a file without its header row has member data (names, ids)
  // where the headers should be, so Slack gets the column numbers only (the texts: `runs show`, dashboard).
  if (run.warnings.length > 0) {
    const shown = run.warnings.slice(0, 5).map((w) => escapeMrkdwn(maskValue(w.replace(/"[^"]*"/g, '"…"'), null)));
    const more = run.warnings.length - shown.length;
    elements.push({ type: 'mrkdwn', text: `Warnings: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}` });
  }
  return { type: 'context', elements };
}

/** Slack refuses a section text over 3,000 characters. */
const SECTION_MAX = 3000;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function section(text: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text: clip(text, SECTION_MAX) } };
}

function header(text: string): Block {
  // Header blocks are plain text, at most 150 characters.
  return { type: 'header', text: { type: 'plain_text', text: text.slice(0, 150) } };
}

function bullets(lines: string[]): string {
  return lines.map((line) => `• ${line}`).join('\n');
}

function base(run: RunView, options: MessageOptions): Pick<AlertMessage, 'tenantId' | 'runId' | 'channel'> {
  return { tenantId: run.tenantId, runId: run.id, ...(options.channel ? { channel: options.channel } : {}) };
}

function decisionNote(run: RunView): string | undefined {
  const note = [...run.reasons].reverse().find((r) => /^(approved|rejected) by /.test(r));
  return note;
}

export function acceptedMessage(run: RunView, options: MessageOptions = {}): AlertMessage {
  const approved = decisionNote(run);
  const holdReasons = run.reasons.filter((r) => r !== approved);
  const blocks: Block[] = [header(`${run.tenantId}: membership file accepted`), section(fileLine(run)), countFields(run.counts)];
  if (approved) {
    blocks.push(section(`*Held, then ${escapeMrkdwn(approved)}.*${holdReasons.length ? `\nIt was held because:\n${bullets(holdReasons.map(escapeMrkdwn))}` : ''}`));
  }
  const attach: AlertMessage['attach'] = ['invites', 'updates', 'deletions'];
  const notes = ['The three files for the platform are in the thread.'];
  if (run.errorCount > 0) {
    attach.push('errors');
    notes.push(`${plural(run.errorCount, 'invalid row was', 'invalid rows were')} skipped under the tenant's policy and their members carried forward: see validation errors.csv.`);
  }
  blocks.push(section(notes.join('\n')));
  blocks.push(runContext(run, options));
  const text =
    `${run.tenantId}: accepted ${run.fileName}, ${number(run.rows)} rows: ${countsText(run.counts)}. Run ${run.id}` +
    `${approved ? ` (${approved})` : ''}.`;
  return { kind: 'accepted', text, blocks, attach, ...base(run, options) };
}

export function rejectedMessage(run: RunView, options: MessageOptions = {}): AlertMessage {
  const decision = decisionNote(run);
  if (decision) {
    // A held run an operator rejected: nothing applied, no errors to fix.
    const holdReasons = run.reasons.filter((r) => r !== decision);
    const blocks: Block[] = [
      header(`${run.tenantId}: held file rejected`),
      section(fileLine(run)),
      section(
        `*${escapeMrkdwn(decision)}.* Nothing was applied; the tenant's last accepted state is unchanged.` +
          (holdReasons.length ? `\nIt was held because:\n${bullets(holdReasons.map(escapeMrkdwn))}` : ''),
      ),
      runContext(run, options),
    ];
    return { kind: 'rejected', text: `${run.tenantId}: held file ${run.fileName} ${decision}; nothing applied. Run ${run.id}.`, blocks, attach: [], ...base(run, options) };
  }
  const max = options.maxErrors ?? 10;
  const shown = run.errors.slice(0, max);
  const errorLines = shown.map((e) => {
    const where = [e.line ? `line ${e.line}` : 'file', ...(e.column ? [`column ${code(e.column)}`] : [])].join(', ');
    return `${where}: ${escapeMrkdwn(clip(maskValue(e.message, e.value), 250))}`;
  });
  const more = run.errorCount - shown.length;
  const blocks: Block[] = [
    header(`${run.tenantId}: membership file rejected`),
    section(`${fileLine(run)}\n*Errors:* ${number(run.errorCount)}. Nothing was applied; the tenant's last accepted state is unchanged.`),
    section(`*First errors:*\n${bullets(errorLines)}${more > 0 ? `\n…and ${number(more)} more in validation errors.csv` : ''}`),
    section(
      '*What the customer must fix:* correct every row listed in `validation errors.csv` (line, column, value, reason) ' +
        'in their HR system export, then upload the whole corrected file again. A file with any invalid row is rejected as a whole.',
    ),
    runContext(run, options),
  ];
  const first = shown[0];
  const firstText = first ? ` First: ${first.line ? `line ${first.line}` : 'file'}${first.column ? `, column ${first.column}` : ''}: ${maskValue(first.message, first.value)}.` : '';
  return {
    kind: 'rejected',
    text: `${run.tenantId}: rejected ${run.fileName}: ${plural(run.errorCount, 'error')}.${firstText} Run ${run.id}.`,
    blocks,
    attach: ['errors'],
    ...base(run, options),
  };
}

export function heldMessage(run: RunView, options: MessageOptions = {}): AlertMessage {
  const cli = options.cliName ?? CLI;
  const url = runUrl(options.dashboardUrl, run.id);
  const approve = `${cli} runs approve ${run.id}`;
  const reject = `${cli} runs reject ${run.id}`;
  const blocks: Block[] = [
    header(`${run.tenantId}: membership file held for approval`),
    section(fileLine(run)),
    section(`*Why it is held:*\n${bullets(run.reasons.map(escapeMrkdwn))}`),
    countFields(run.counts),
    section(
      `Nothing has been applied. *To apply it:* ${code(approve)}\n*To discard it:* ${code(reject)}` +
        (url ? `\nOr decide in the dashboard: <${url}|run ${run.id}>` : '') +
        '\nThe files for the platform come with the approval.',
    ),
  ];
  const extra = run.currentStatus !== 'held' ? [`since then: ${decisionNote(run) ?? run.currentStatus}`] : [];
  blocks.push(runContext(run, options, extra));
  const text =
    `${run.tenantId}: held ${run.fileName} for approval: ${run.reasons.join('; ')}. ` +
    `Approve: ${approve}. Reject: ${reject}.${url ? ` ${url}` : ''}`;
  return { kind: 'held', text, blocks, attach: [], ...base(run, options) };
}

/** A one-line note, or null when the tenant does not want duplicate notes. */
export function duplicateMessage(run: RunView, options: MessageOptions = {}): AlertMessage | null {
  if (options.notifyDuplicates === false) return null;
  const same = run.duplicateOf ? `the same content as run ${run.duplicateOf}` : 'the same content as an earlier file';
  const text = `${run.tenantId}: ${run.fileName} is ${same}; nothing to do. Run ${run.id}.`;
  const url = runUrl(options.dashboardUrl, run.id);
  return {
    kind: 'duplicate',
    text,
    blocks: [section(`${code(run.tenantId)}: ${code(run.fileName)} is ${same}; nothing to do. Run ${run.id}${url ? ` · <${url}|dashboard>` : ''}`)],
    attach: [],
    ...base(run, options),
  };
}

/**
 * A warning for the alert of a run with files (accepted or held) while earlier accepted runs are not
 * marked applied: uploading only this run's files would lose theirs (their deletions above all).
 */
export function unappliedWarning(run: RunView): { block: Block; text: string } | null {
  const earlier = run.unappliedEarlier ?? [];
  if (earlier.length === 0 || (run.status !== 'accepted' && run.status !== 'held')) return null;
  const shown = earlier.slice(0, 5).map((id) => `run ${id}`).join(', ');
  const more = earlier.length > 5 ? ` and ${earlier.length - 5} more` : '';
  const text = `Earlier accepted runs are not marked applied to the platform: ${shown}${more}. Upload their files first, in order, or their deletions and updates are lost; then mark them applied in the console.`;
  return { block: section(`:warning: *${text}*`), text };
}

/** The message of a run alert, by the status it had when the alert was queued (null = send nothing). */
export function runMessage(run: RunView, options: MessageOptions = {}): AlertMessage | null {
  switch (run.status) {
    case 'accepted':
      return acceptedMessage(run, options);
    case 'rejected':
      return rejectedMessage(run, options);
    case 'held':
      return heldMessage(run, options);
    case 'duplicate':
      return duplicateMessage(run, options);
  }
}

export interface DropPayload {
  drop?: string;
  failures?: number;
  since?: string | null;
  error?: string;
}

function when(iso: string | null | undefined): string {
  if (!iso) return 'an unknown time';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function dropUnreachableMessage(payload: DropPayload, options: { channel?: string } = {}): AlertMessage {
  const drop = payload.drop ?? 'the SFTP drop';
  const failures = payload.failures ?? 0;
  const text =
    `SFTP drop unreachable: ${drop} failed ${plural(failures, 'tick')} in a row since ${when(payload.since)}. ` +
    `New files are not picked up until it is reachable again.${payload.error ? ` Last error: ${payload.error}` : ''}`;
  const blocks: Block[] = [
    header('SFTP drop unreachable'),
    section(
      `${code(drop)} failed ${plural(failures, 'poll')} in a row since ${when(payload.since)}. ` +
        'New files are not picked up until it is reachable again; nothing is lost, they are taken on the next good tick.' +
        (payload.error ? `\n*Last error:* ${code(payload.error)}` : ''),
    ),
  ];
  return { kind: 'drop_unreachable', text, blocks, attach: [], ...(options.channel ? { channel: options.channel } : {}) };
}

export function dropRecoveredMessage(payload: DropPayload, options: { channel?: string } = {}): AlertMessage {
  const drop = payload.drop ?? 'the SFTP drop';
  const text = `SFTP drop reachable again: ${drop}, after ${plural(payload.failures ?? 0, 'failed tick')} (down since ${when(payload.since)}).`;
  return {
    kind: 'drop_recovered',
    text,
    blocks: [section(`*SFTP drop reachable again:* ${code(drop)}, after ${plural(payload.failures ?? 0, 'failed poll')} (down since ${when(payload.since)}).`)],
    attach: [],
    ...(options.channel ? { channel: options.channel } : {}),
  };
}

export interface TooLargePayload {
  tenant: string;
  file: string;
  bytes: number;
  limit: number;
  /** The file goes to the tenant's rejected/ folder (false: the drop is read-only, it stays). */
  moved: boolean;
}

const mebibytes = (bytes: number) => `${(bytes / 1024 / 1024).toLocaleString('en-US', { maximumFractionDigits: 1 })} MiB`;

/** A file on the drop over drop.maxFileBytes: rejected unread (no run), moved to rejected/ with the reason. */
export function fileTooLargeMessage(payload: TooLargePayload, options: { channel?: string } = {}): AlertMessage {
  const size = `${mebibytes(payload.bytes)} (${number(payload.bytes)} bytes)`;
  const limit = `${mebibytes(payload.limit)} (drop.maxFileBytes)`;
  const where = payload.moved ? ` It goes to the tenant's rejected/ folder with the reason in ${payload.file}.errors.csv.` : '';
  const text = `${payload.tenant}: file ${payload.file} rejected unread: ${size} is over the limit of ${limit}. Nothing was applied.${where}`;
  const blocks: Block[] = [
    header(`${payload.tenant}: membership file too large`),
    section(
      `*File:* ${code(payload.file)}\n*Size:* ${escapeMrkdwn(size)}, over the limit of ${escapeMrkdwn(limit)}. ` +
        "It was not read and nothing was applied; the tenant's last accepted state is unchanged." +
        (payload.moved ? `\nIt goes to the tenant's ${code('rejected/')} folder on the drop, with the reason in ${code(`${payload.file}.errors.csv`)}.` : ''),
    ),
    section(
      '*What to do:* check with the customer that this is their full membership export (a file this size is usually the ' +
        'wrong export or a duplicated one); if it is right, raise `drop.maxFileBytes` and have them upload it again.',
    ),
  ];
  return { kind: 'file_too_large', text, blocks, attach: [], ...(options.channel ? { channel: options.channel } : {}) };
}

export function testMessage(info: { channel?: string; host?: string; at: Date }): AlertMessage {
  const from = info.host ? ` from ${info.host}` : '';
  const text = `hris-ingest test message${from} at ${info.at.toISOString()}: Slack alerts are set up.`;
  return {
    kind: 'test',
    text,
    blocks: [section(`*hris-ingest test message*${escapeMrkdwn(from)} at ${info.at.toISOString()}: Slack alerts are set up. Nothing to do.`)],
    attach: [],
    ...(info.channel ? { channel: info.channel } : {}),
  };
}
