/**
 * The alert of every outcome, as Block Kit plus a plain-text fallback. Pure functions of what is stored.
 *
 * Privacy: a message names the tenant, the file, counts, line numbers, column names and reasons. It never
 * carries a cell value (member data must not end up in Slack's message history or our logs): where a
 * reason quotes the value, the value is masked. The attached `validation errors.csv` carries the values
 * for whoever must fix the file.
 *
 * Hostile input: every piece of customer text (file name, tenant id, column names, reasons, errors) is
 * bounded where it is put in (src/text/bounded.ts) and escaped for where it goes: inline code in mrkdwn
 * (`literal`: no mention, link or formatting is live inside it), plain_text objects for sentences that
 * carry customer text (Slack renders no markup there), and the top-level text entity-escaped
 * (`notificationText`) and posted with mrkdwn off (src/notify/slack.ts). src/notify/limits.ts then holds
 * the whole message to Slack's limits.
 */
import type { DiffCounts } from '../diff/diff.js';
import type { RunStatus } from '../store/runs.js';
import { capList, cut, joinCapped } from '../text/bounded.js';
import { maskError, maskValue } from '../text/mask.js';
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
  /** Earlier accepted runs of the tenant not marked applied to the platform (console): the oldest, and how many. */
  unappliedEarlier?: { ids: number[]; total: number };
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
  /** Retention removed the run's changes before its alert went out (Slack down longer than retentionDays): no files. */
  filesRemoved?: boolean;
}

/** What a message whose run's files are gone says in place of them. */
const FILES_REMOVED = 'The files are no longer available: retention removed this run’s changes before the alert could be delivered.';

const CLI = 'hris-ingest';

/** How much of each customer text a message shows (a name is recognisable well before these). */
export const SHOWN = { tenant: 60, fileName: 200, column: 80, error: 250, reason: 250, reasons: 10, warning: 200, warnings: 5, text: 1_000 } as const;
const number = (n: number) => n.toLocaleString('en-US');
const plural = (n: number, one: string, many = `${one}s`) => `${number(n)} ${n === 1 ? one : many}`;

/** Slack mrkdwn needs &, < and > escaped; everything we interpolate goes through this. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Customer text shown literally in mrkdwn: cut to MAX, as inline code (no formatting applies), escaped; a
 * backtick becomes ' and a line break a space (either would end the span). Every alert kind shows names so.
 */
export function literal(text: string, max: number = SHOWN.fileName): string {
  return `\`${escapeMrkdwn(cut(text.replace(/`/g, "'").replace(/\s*\n\s*/g, ' '), max))}\``;
}
const code = literal;

/**
 * The top-level text (notifications, fallback): cut, then &, < and > escaped so no mention or link in it
 * is live (Slack parses them there too), an entity never cut in half. Posted with mrkdwn off.
 */
export function notificationText(text: string, max: number = SHOWN.text): string {
  return escapeMrkdwn(cut(text, max));
}

export function runUrl(dashboardUrl: string | undefined, runId: number): string | undefined {
  if (!dashboardUrl) return undefined;
  return `${dashboardUrl.replace(/\/+$/, '')}/runs/${runId}`;
}

function fileLine(run: RunView): string {
  const date = run.fileDate ? ` (file date ${isoDate(run.fileDate)})` : '';
  return `*File:* ${code(run.fileName)}${date}\n*Rows:* ${number(run.rows)}`;
}

/** Customer-bearing names in the top-level text, cut. */
const tenantName = (run: { tenantId: string }) => cut(run.tenantId, SHOWN.tenant);
const fileName = (run: { fileName: string }) => cut(run.fileName, SHOWN.fileName);

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
  const parts = [`Run ${run.id}`, `tenant ${code(run.tenantId, SHOWN.tenant)}`, ...(url ? [`<${url}|open in the dashboard>`] : []), ...extra];
  const elements: Array<{ type: 'mrkdwn' | 'plain_text'; text: string }> = [{ type: 'mrkdwn', text: parts.join(' · ') }];
  // File-level warnings quote header texts; a file without its header row has member data (names, ids)
  // where the headers should be, so Slack gets the column numbers only (the texts: `runs show`, dashboard).
  if (run.warnings.length > 0) {
    // Capped first (a file can have 20,000 warnings; only the shown ones are masked), and a quote the cut
    // left open is masked to the end.
    const shown = capList(run.warnings, SHOWN.warnings, { itemMax: SHOWN.warning * 4 }).map((w) =>
      cut(maskValue(w.replace(/"[^"]*(?:"|$)/g, '"…"'), null), SHOWN.warning),
    );
    elements.push({ type: 'plain_text', text: `Warnings: ${shown.join('; ')}` });
  }
  return { type: 'context', elements };
}

/** Slack refuses a section text over 3,000 characters. */
const SECTION_MAX = 3000;

function section(text: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text: cut(text, SECTION_MAX) } };
}

/** A section of text that carries customer sentences (reasons, errors): plain_text, where Slack renders no markup. */
function plainSection(text: string): Block {
  return { type: 'section', text: { type: 'plain_text', text: cut(text, SECTION_MAX) } };
}

function header(text: string): Block {
  // Header blocks are plain text, at most 150 characters.
  return { type: 'header', text: { type: 'plain_text', text: cut(text, 150) } };
}

function bullets(lines: string[]): string {
  return lines.map((line) => `• ${line}`).join('\n');
}

/** At most SHOWN.reasons reasons, each cut, as bullets. */
function reasonBullets(reasons: string[]): string {
  return bullets(capList(reasons, SHOWN.reasons, { itemMax: SHOWN.reason }));
}

function base(run: RunView, options: MessageOptions): Pick<AlertMessage, 'tenantId' | 'runId' | 'channel'> {
  return { tenantId: run.tenantId, runId: run.id, ...(options.channel ? { channel: options.channel } : {}) };
}

/**
 * A decided held run's reasons: the operator's decision note (runs approve|reject add it to the reasons,
 * src/store/runs.ts decideRun) and why it was held, apart. Every message shows the two apart: the held
 * alert, sent after the decision, listed the decision as a reason it was held.
 */
function decisionOf(run: RunView): { decision: string | undefined; holdReasons: string[] } {
  const decision = [...run.reasons].reverse().find((r) => /^(approved|rejected) by /.test(r));
  return { decision, holdReasons: run.reasons.filter((r) => r !== decision) };
}

export function acceptedMessage(run: RunView, options: MessageOptions = {}): AlertMessage {
  const { decision: approved, holdReasons } = decisionOf(run);
  const blocks: Block[] = [header(`${tenantName(run)}: membership file accepted`), section(fileLine(run)), countFields(run.counts)];
  if (approved) {
    blocks.push(plainSection(`Held, then ${cut(approved, SHOWN.reason)}.${holdReasons.length ? `\nIt was held because:\n${reasonBullets(holdReasons)}` : ''}`));
  }
  const removed = options.filesRemoved === true;
  const attach: AlertMessage['attach'] = removed ? [] : ['invites', 'updates', 'deletions'];
  const notes = [removed ? FILES_REMOVED : 'The three files for the platform are in the thread.'];
  if (run.errorCount > 0) {
    if (!removed) attach.push('errors');
    notes.push(`${plural(run.errorCount, 'invalid row was', 'invalid rows were')} skipped under the tenant's policy and their members carried forward${removed ? '' : ': see validation errors.csv'}.`);
  }
  blocks.push(section(notes.join('\n')));
  blocks.push(runContext(run, options));
  const text = notificationText(
    `${tenantName(run)}: accepted ${fileName(run)}, ${number(run.rows)} rows: ${countsText(run.counts)}. Run ${run.id}` +
      `${approved ? ` (${cut(approved, SHOWN.reason)})` : ''}.`,
  );
  return { kind: 'accepted', text, blocks, attach, ...base(run, options) };
}

export function rejectedMessage(run: RunView, options: MessageOptions = {}): AlertMessage {
  const { decision, holdReasons } = decisionOf(run);
  if (decision) {
    // A held run an operator rejected: nothing applied, no errors to fix.
    const blocks: Block[] = [
      header(`${tenantName(run)}: held file rejected`),
      section(fileLine(run)),
      plainSection(
        `${cut(decision, SHOWN.reason)}. Nothing was applied; the tenant's last accepted state is unchanged.` +
          (holdReasons.length ? `\nIt was held because:\n${reasonBullets(holdReasons)}` : ''),
      ),
      runContext(run, options),
    ];
    const text = notificationText(`${tenantName(run)}: held file ${fileName(run)} ${cut(decision, SHOWN.reason)}; nothing applied. Run ${run.id}.`);
    return { kind: 'rejected', text, blocks, attach: [], ...base(run, options) };
  }
  const max = options.maxErrors ?? 10;
  const shown = run.errors.slice(0, max);
  const errorLines = shown.map((e) => `${errorPlace(e)}: ${errorText(e)}`);
  const more = run.errorCount - shown.length;
  const blocks: Block[] = [
    header(`${tenantName(run)}: membership file rejected`),
    section(`${fileLine(run)}\n*Errors:* ${number(run.errorCount)}. Nothing was applied; the tenant's last accepted state is unchanged.`),
    plainSection(`First errors:\n${bullets(errorLines)}${more > 0 ? `\n... and ${number(more)} more in validation errors.csv` : ''}`),
    section(
      '*What the customer must fix:* correct every row listed in `validation errors.csv` (line, column, value, reason) ' +
        'in their HR system export, then upload the whole corrected file again. A file with any invalid row is rejected as a whole.',
    ),
    ...(options.filesRemoved ? [section(FILES_REMOVED)] : []),
    runContext(run, options),
  ];
  const first = shown[0];
  const firstText = first ? ` First: ${errorPlace(first)}: ${errorText(first)}.` : '';
  return {
    kind: 'rejected',
    text: notificationText(`${tenantName(run)}: rejected ${fileName(run)}: ${plural(run.errorCount, 'error')}.${firstText} Run ${run.id}.`),
    blocks,
    attach: options.filesRemoved ? [] : ['errors'],
    ...base(run, options),
  };
}

/** An error's reason as Slack shows it: masked, cut. */
function errorText(e: RunErrorView): string {
  return cut(maskError(e), SHOWN.error);
}

/** "line 5, column email" (plain text; the column cut). */
function errorPlace(e: RunErrorView): string {
  return [e.line ? `line ${e.line}` : 'file', ...(e.column ? [`column ${cut(e.column, SHOWN.column)}`] : [])].join(', ');
}

export function heldMessage(run: RunView, options: MessageOptions = {}): AlertMessage {
  const cli = options.cliName ?? CLI;
  const url = runUrl(options.dashboardUrl, run.id);
  const approve = `${cli} runs approve ${run.id}`;
  const reject = `${cli} runs reject ${run.id}`;
  const { decision: decided, holdReasons } = decisionOf(run);
  const blocks: Block[] = [
    header(`${tenantName(run)}: membership file held for approval`),
    section(fileLine(run)),
    plainSection(`Why it is held:\n${reasonBullets(holdReasons)}`),
    countFields(run.counts),
    section(
      `Nothing has been applied. *To apply it:* ${code(approve)}\n*To discard it:* ${code(reject)}` +
        (url ? `\nOr decide in the dashboard: <${url}|run ${run.id}>` : '') +
        '\nThe files for the platform come with the approval.',
    ),
  ];
  const extra = run.currentStatus !== 'held' ? [`since then: ${decided ? code(decided, SHOWN.reason) : run.currentStatus}`] : [];
  blocks.push(runContext(run, options, extra));
  const text = notificationText(
    `${tenantName(run)}: held ${fileName(run)} for approval: ${joinCapped(holdReasons, '; ', 600, { itemMax: 200, noun: 'reasons' })}. ` +
      `Approve: ${approve}. Reject: ${reject}.${url ? ` ${url}` : ''}`,
  );
  return { kind: 'held', text, blocks, attach: [], ...base(run, options) };
}

/** A one-line note, or null when the tenant does not want duplicate notes. */
export function duplicateMessage(run: RunView, options: MessageOptions = {}): AlertMessage | null {
  if (options.notifyDuplicates === false) return null;
  const same = run.duplicateOf ? `the same content as run ${run.duplicateOf}` : 'the same content as an earlier file';
  const text = notificationText(`${tenantName(run)}: ${fileName(run)} is ${same}; nothing to do. Run ${run.id}.`);
  const url = runUrl(options.dashboardUrl, run.id);
  return {
    kind: 'duplicate',
    text,
    blocks: [section(`${code(run.tenantId, SHOWN.tenant)}: ${code(run.fileName)} is ${same}; nothing to do. Run ${run.id}${url ? ` · <${url}|dashboard>` : ''}`)],
    attach: [],
    ...base(run, options),
  };
}

/**
 * A warning for the alert of a run with files (accepted or held) while earlier accepted runs are not
 * marked applied: uploading only this run's files would lose theirs (their deletions above all).
 */
export function unappliedWarning(run: RunView): { block: Block; text: string } | null {
  const earlier = run.unappliedEarlier;
  if (!earlier || earlier.total === 0 || (run.status !== 'accepted' && run.status !== 'held')) return null;
  const shown = capList(earlier.ids.map((id) => `run ${id}`), 5, { total: earlier.total }).join(', ');
  const text = `Earlier accepted runs are not marked applied to the platform: ${shown}. Upload their files first, in order, or their deletions and updates are lost; then mark them applied in the console.`;
  return { block: section(`:warning: ${text}`), text };
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
  const text = notificationText(
    `SFTP drop unreachable: ${cut(drop, SHOWN.fileName)} failed ${plural(failures, 'tick')} in a row since ${when(payload.since)}. ` +
      `New files are not picked up until it is reachable again.${payload.error ? ` Last error: ${cut(payload.error, SHOWN.reason)}` : ''}`,
  );
  const blocks: Block[] = [
    header('SFTP drop unreachable'),
    section(
      `${code(drop)} failed ${plural(failures, 'poll')} in a row since ${when(payload.since)}. ` +
        'New files are not picked up until it is reachable again; nothing is lost, they are taken on the next good tick.' +
        (payload.error ? `\n*Last error:* ${code(payload.error, SHOWN.reason)}` : ''),
    ),
  ];
  return { kind: 'drop_unreachable', text, blocks, attach: [], ...(options.channel ? { channel: options.channel } : {}) };
}

export function dropRecoveredMessage(payload: DropPayload, options: { channel?: string } = {}): AlertMessage {
  const drop = payload.drop ?? 'the SFTP drop';
  const text = notificationText(`SFTP drop reachable again: ${cut(drop, SHOWN.fileName)}, after ${plural(payload.failures ?? 0, 'failed tick')} (down since ${when(payload.since)}).`);
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
  const file = cut(payload.file, SHOWN.fileName);
  const where = payload.moved ? ` It goes to the tenant's rejected/ folder with the reason in ${file}.errors.csv.` : '';
  const text = notificationText(`${cut(payload.tenant, SHOWN.tenant)}: file ${file} rejected unread: ${size} is over the limit of ${limit}. Nothing was applied.${where}`);
  const blocks: Block[] = [
    header(`${cut(payload.tenant, SHOWN.tenant)}: membership file too large`),
    section(
      `*File:* ${code(payload.file)}\n*Size:* ${escapeMrkdwn(size)}, over the limit of ${escapeMrkdwn(limit)}. ` +
        "It was not read and nothing was applied; the tenant's last accepted state is unchanged." +
        (payload.moved ? `\nIt goes to the tenant's ${code('rejected/')} folder on the drop, with the reason in ${code(`${file}.errors.csv`, SHOWN.fileName + 20)}.` : ''),
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
  const text = notificationText(`hris-ingest test message${from} at ${info.at.toISOString()}: Slack alerts are set up.`);
  return {
    kind: 'test',
    text,
    blocks: [section(`*hris-ingest test message*${info.host ? ` from ${code(info.host, SHOWN.fileName)}` : ''} at ${info.at.toISOString()}: Slack alerts are set up. Nothing to do.`)],
    attach: [],
    ...(info.channel ? { channel: info.channel } : {}),
  };
}

/**
 * The message sent once instead of one Slack refused for its content (msg_too_long, invalid_blocks):
 * plain text only, what the alert is about (the run id and its counts), and where to read the rest.
 */
export function minimalMessage(
  about: { kind: AlertMessage['kind']; alertId?: number; channel?: string; run?: Pick<RunView, 'id' | 'tenantId' | 'status' | 'rows' | 'counts' | 'errorCount'> },
  refusal: string,
): AlertMessage {
  const run = about.run;
  const what = run
    ? `${cut(run.tenantId, SHOWN.tenant)}: run ${run.id} ${run.status}, ${number(run.rows)} rows: ${countsText(run.counts)}, ${plural(run.errorCount, 'error')}.`
    : `hris-ingest alert ${about.alertId ?? ''} (${about.kind.replace(/_/g, ' ')}).`;
  const more = run ? `Details: ${CLI} runs show ${run.id}` : `Details: the service log (alertId ${about.alertId ?? '?'})`;
  return {
    kind: about.kind,
    text: notificationText(`${what} Slack refused the full alert (${cut(refusal, 60)}); this is its short form. ${more}.`),
    blocks: [],
    attach: [],
    ...(run ? { tenantId: run.tenantId, runId: run.id } : {}),
    ...(about.alertId !== undefined ? { alertId: about.alertId } : {}),
    ...(about.channel ? { channel: about.channel } : {}),
  };
}
