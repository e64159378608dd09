import type { Guardrails, TenantConfig } from '../config/tenant.js';
import type { Logger } from '../log.js';
import type { Queryable } from '../store/db.js';
import {
  ensureTenant,
  finishRun,
  insertRun,
  lastAcceptedRun,
  lockTenant,
  sameContentRun,
  type RunRow,
  type RunSource,
  type RunStatus,
} from '../store/runs.js';
import { applyRunChanges, requireRekeyable } from './apply.js';
import type { DiffCounts, KeptOutInvites } from '../types.js';
import { checkDuplicates, chooseKey, requireKey, rowsSharingKey } from './checks.js';
import { diffAgainstMembers, emptyCounts, keptOutInvites, type DiffResult } from './diff.js';
import { guardrailReasons, skippedRowReasons } from './guardrails.js';
import { fileNameDateWarning } from './file-name-date.js';
import { isoDay } from '../text/dates.js';
import { columnHeader, type FileHeader, type MembershipSource, type ReadTotals } from './source.js';
import { RowFilter, type KnownIndex } from './filter.js';
import { KnownMembers } from './known.js';
import { createStage, StageWriter } from './stage.js';
import { UnusableFileError, type KeyField, type StageLayout } from './types.js';

export { UnusableFileError } from './types.js';

export interface ProcessOptions {
  source: RunSource;
  fileDate: Date | null;
  /** Take the tenant's advisory lock (ingest, baseline); preview does not write the tenant's state. */
  lock: boolean;
  /** Content already accepted or held for the tenant becomes a duplicate run. */
  duplicateCheck: boolean;
  /** Apply whatever the guardrails say, and fail on invalid rows (preview --against PREVIOUS). */
  force: boolean;
  /** Replace the tenant's state with the file, every member on the platform. */
  baseline: boolean;
  /** The transaction will be rolled back (preview): the run row must not collide with real runs. */
  scratch?: boolean;
  /**
   * Leave unchanged rows of members on the platform out of the database work (default true). Off only to
   * check that the result is the same either way (test/diff.filter.test.ts).
   */
  leaveOutUnchanged?: boolean;
  /** Embedded PGlite: its memory is this process's, so no bigger work_mem. */
  embedded?: boolean;
  logger?: Logger;
  onProgress?: (records: number) => void;
}

export interface ProcessResult {
  runId: number;
  status: RunStatus;
  members?: number;
  /** Rows left out of the database work as unchanged (src/diff/filter.ts). */
  leftOut: number;
}

const now = () => performance.now();

/** Phase timings of one run (stored with the run: `hris-ingest runs show`, the benchmark's engine phases). */
export class RunClock {
  readonly started = now();
  readonly timings: Record<string, number> = {};
  private lap = this.started;

  /** The time since the last mark is PHASE's. */
  mark(phase: string): void {
    const at = now();
    this.timings[phase] = Math.round(at - this.lap);
    this.lap = at;
  }

  total(): Record<string, number> {
    return { ...this.timings, totalMs: Math.round(now() - this.started) };
  }
}

/** One run under way: what every step below needs. */
export interface RunContext {
  client: Queryable;
  tenant: TenantConfig;
  fileName: string;
  options: ProcessOptions;
  runId: number;
  /** The tenant's last accepted run: what the file is compared with (null for a first file). */
  previous: RunRow | null;
  clock: RunClock;
}

/** The file once read into the staging table. */
export interface StagedFile {
  header: FileHeader;
  /** Why the header could not be used (then no row was read). */
  headerFailure?: string;
  layout: StageLayout;
  filter: RowFilter | null;
  writer: StageWriter;
  totals: ReadTotals;
}

/** The file after the checks on the whole staged file: the key members are matched by, and its rows. */
export interface CheckedFile {
  key: KeyField;
  rows: {
    valid: number;
    invalid: number;
    /** Rows without a value for the key: the reader's invalid ones, and those requireKey invalidated. */
    invalidWithoutKey: number;
    /** Invalid rows whose key value cannot be trusted and names no stored member (StageStats). */
    invalidUnmatched: number;
    /** Rows invalid because another row has the same key value (checkDuplicates). */
    invalidSharedKey: number;
  };
  warnings: string[];
}

/** What a run's row records besides its status. */
export interface RunRecord {
  key: KeyField | null;
  counts?: DiffCounts;
  reasons?: string[];
  warnings?: string[];
  duplicateOf?: number;
}

/**
 * One file through the engine, inside the caller's transaction on CLIENT, in the README's data-flow order:
 * load the stored members, read and stage the file, the checks, the diff, the guardrails, and record the
 * run (with its changes and errors; applied when accepted). Each step below is a function of its own.
 * The run's alert is the caller's (src/pipeline.ts queues it in the same transaction).
 */
export async function processFile(
  client: Queryable,
  tenant: TenantConfig,
  fileName: string,
  /** Called once the stored members are in memory (the reader starts when opened). */
  openSource: () => MembershipSource,
  options: ProcessOptions,
): Promise<ProcessResult> {
  const run = await openRun(client, tenant, fileName, options);
  const known = await loadKnownMembers(run);
  const staged = await readAndStage(run, known, openSource);

  if (options.duplicateCheck) {
    const duplicate = await sameContent(run, staged);
    if (duplicate) return recordRun(run, staged, 'duplicate', duplicate);
  }
  const unreadable = await unreadableFile(run, staged);
  if (unreadable) return recordRun(run, staged, 'rejected', unreadable);

  const checked = await checkFile(run, staged);
  await requireUsableFile(run, staged, checked);
  if (options.baseline || (options.force && !run.previous)) return takeFileAsState(run, staged, checked);
  if (checked.rows.invalid > 0 && tenant.invalidRows === 'reject') return recordRun(run, staged, 'rejected', invalidRowsRejection(staged, checked));

  const diff = await diffFile(run, staged, checked);
  const verdict = applyGuardrails(run, staged, checked, diff);
  if (verdict.status === 'accepted') await applyRun(run, checked.key);
  return recordRun(run, staged, verdict.status, { key: checked.key, counts: diff.counts, reasons: verdict.reasons, warnings: verdict.warnings });
}

/** The run row, after the session settings, the tenant's row and (ingest, baseline) the tenant's lock. */
export async function openRun(client: Queryable, tenant: TenantConfig, fileName: string, options: ProcessOptions): Promise<RunContext> {
  const clock = new RunClock();
  // Hash joins and aggregates over the staged file stay in memory (the default 4MB spills to disk).
  // No JIT: the generated statements look expensive to the planner, and compiling them took ~0.9 s
  // per statement on a 1M-row file, more than it saved. No idle-in-transaction timeout: a drop run waits
  // here, its stored members loaded, for the rest of its download (src/drop/take-file.ts), however long
  // the server's own setting would let an idle transaction live.
  if (!options.embedded) {
    await client.query(`set local work_mem = '64MB'; set local jit = off; set local idle_in_transaction_session_timeout = 0`);
  }
  await ensureTenant(client, tenant);
  if (options.lock) await lockTenant(client, tenant.id);
  const previous = await lastAcceptedRun(client, tenant.id);
  const runId = await insertRun(client, {
    tenantId: tenant.id,
    fileName,
    fileDate: options.fileDate,
    source: options.source,
    baseRunId: previous?.id ?? null,
  });
  return { client, tenant, fileName, options, runId, previous, clock };
}

/**
 * Opens the reader and streams its batches into the staging table (through the row filter when members
 * are stored). Called after the stored members are loaded: rows parsed and then held while they load
 * would survive several garbage collections, and V8 would then allocate every later row straight into
 * the old generation (allocation-site pretenuring), growing the heap by ~100 MB on a 1M-row file.
 */
export async function readAndStage(run: RunContext, known: KnownIndex | null, openSource: () => MembershipSource): Promise<StagedFile> {
  const { client, tenant, options } = run;
  const source = openSource();
  // Observed below; without this a rejection while we await something else would be unhandled.
  source.totals.catch(() => undefined);
  source.header.catch(() => undefined);

  let header: FileHeader;
  let headerFailure: string | undefined;
  try {
    header = await source.header;
  } catch (error) {
    header = { columns: [], warnings: [] };
    headerFailure = (error as Error).message;
  }
  const layout = await createStage(client, header.columns);
  const filter = known ? new RowFilter(known, layout, { leaveOut: options.leaveOutUnchanged !== false }) : null;
  const writer = new StageWriter(client, layout, run.runId, filter && { filter, tenantId: tenant.id });
  let records = 0;
  if (!headerFailure) {
    for await (const batch of source.batches) {
      await writer.add(batch);
      records += batch.rows.length + batch.invalid.length;
      options.onProgress?.(records);
    }
  }
  const totals: ReadTotals = await source.totals;
  await writer.finish();
  run.clock.mark('readMs');
  run.clock.timings.stageWaitMs = Math.round(writer.stats.waitMs);
  return { header, headerFailure, layout, filter, writer, totals };
}

/** Content equal to the tenant's last accepted file or a held run: a duplicate of that run (its row errors dropped). */
export async function sameContent(run: RunContext, staged: StagedFile): Promise<RunRecord | null> {
  const { client, runId } = run;
  const same = await sameContentRun(client, run.tenant.id, staged.totals.sha256, runId);
  if (!same) return null;
  await client.query('delete from run_errors where run_id = $1', [runId]);
  staged.writer.stats.errorCount = 0;
  return {
    key: same.key_field,
    duplicateOf: same.id,
    reasons: [`same content as run ${same.id} (${same.status}); nothing to do`],
  };
}

/**
 * A file-level problem (from the reader, or a header that could not be used) becomes the run's error: the
 * file is rejected, or (baseline, preview --against) unusable.
 */
export async function unreadableFile(run: RunContext, staged: StagedFile): Promise<RunRecord | null> {
  const { totals, headerFailure } = staged;
  const fatal = totals.fatal ?? (headerFailure ? { line: 1, column: '', value: '', message: headerFailure } : undefined);
  if (!fatal) return null;
  await staged.writer.addIssues([fatal]);
  if (run.options.force || run.options.baseline) throw UnusableFileError.unreadable(run.fileName, fatal);
  return { key: null, reasons: [`the file could not be read: ${fatal.message} (line ${fatal.line})`] };
}

/**
 * The checks on the whole staged file: repeated emails / employee_ids, the key members are matched by
 * (re-keying the store when the tenant's key changed), and rows without a value for it.
 */
export async function checkFile(run: RunContext, staged: StagedFile): Promise<CheckedFile> {
  const { client, tenant, options, previous, runId, clock } = run;
  const { layout, writer } = staged;
  // Temporary tables get no statistics by themselves; the planner needs them for the joins below
  // (only on the columns joined and filtered on: all 20-odd columns cost several times more).
  await client.query(`analyze ${layout.table} (valid, email, employee_id)`);
  clock.mark('analyzeMs');
  // Errors name a column as the customer's file does ("Unique ID"), the reader's as the checks'.
  const columnOf = (field: string) => columnHeader(staged.header, field);
  const duplicates = await checkDuplicates(client, layout, runId, writer.stats.errorCount, columnOf);
  writer.stats.errorCount += duplicates.errors;
  const stats = writer.stats;
  const established = options.baseline ? null : await establishedKey(run);
  const key = chooseKey(layout, stats, tenant.key, established);
  const warnings: string[] = [];
  if (established && established !== key) {
    // The store is re-keyed only when the run is applied (applyRunChanges): a run rejected or held must not.
    await requireRekeyable(client, tenant.id, key);
    warnings.push(`members are now matched by ${key} (was ${established})`);
  }
  const missingKey = await requireKey(client, layout, key, stats, runId, stats.errorCount, columnOf('employee_id'));
  stats.errorCount += missingKey.errors;
  const invalidated = duplicates.invalidated + missingKey.invalidated;
  const rows = {
    valid: stats.validRows - invalidated,
    invalid: stats.invalidRows + invalidated,
    // rows without a value for the key: the reader's invalid ones, and those requireKey just invalidated
    invalidWithoutKey: key === 'email' ? stats.invalidWithoutEmail : stats.invalidWithoutEmployeeId + missingKey.invalidated,
    invalidUnmatched: stats.invalidUnmatched,
    invalidSharedKey: duplicates.errors > 0 ? await rowsSharingKey(client, layout, key) : 0,
  };
  clock.mark('checkMs');
  return { key, rows, warnings };
}

/**
 * The key the stored members are matched by: the last accepted run's, when there are stored members. An
 * accepted run that left nobody stored (an approved empty file) proved nothing about the key: under `auto`
 * it had chosen email, and every later file was then keyed by email although it carried employee_id for
 * every row (an email change became a deletion and an invite).
 */
async function establishedKey(run: RunContext): Promise<KeyField | null> {
  if (!run.previous?.key_field) return null;
  const stored = await run.client.query('select 1 from members where tenant_id = $1 limit 1', [run.tenant.id]);
  return stored.rows.length > 0 ? run.previous.key_field : null;
}

/** A file that is to become the state (baseline, preview --against PREVIOUS) must have no invalid row, and a baseline some rows. */
export async function requireUsableFile(run: RunContext, staged: StagedFile, checked: CheckedFile): Promise<void> {
  const { options, fileName } = run;
  const { rows } = checked;
  if (options.baseline || options.force) {
    if (rows.invalid > 0) {
      const issues = await run.client.query<{ line: number; column: string; value: string | null; message: string }>(
        'select line, column_name as column, value, message from run_errors where run_id = $1 order by line, seq limit 10',
        [run.runId],
      );
      throw UnusableFileError.invalidRows(fileName, rows.invalid, staged.writer.stats.errorCount, issues.rows);
    }
  }
  if (options.baseline && rows.valid === 0) {
    throw new UnusableFileError(`${fileName}: the file has no member rows; a baseline would empty the tenant's state`);
  }
}

/**
 * The file becomes the state directly (no change records): a baseline puts every member on the platform;
 * a first file taken as given (preview --against PREVIOUS) puts the invitable ones there.
 */
export async function takeFileAsState(run: RunContext, staged: StagedFile, checked: CheckedFile): Promise<ProcessResult> {
  const { client, tenant, runId, options } = run;
  const { layout } = staged;
  const { key } = checked;
  const onPlatform = options.baseline ? 'true' : 's.invitable';
  await client.query('delete from members where tenant_id = $1', [tenant.id]);
  await client.query('delete from member_rows where tenant_id = $1', [tenant.id]);
  const inserted = await client.query<{ on_platform: boolean; n: number }>(
    `with ins as (
       insert into members (tenant_id, member_key, email, employee_id, row_hash, on_platform, updated_run_id)
       select $1, s.${key}, s.email, s.employee_id, s.row_hash, ${onPlatform}, $2
       from ${layout.table} s where s.valid
       returning on_platform
     ) select on_platform, count(*)::int as n from ins group by on_platform`,
    [tenant.id, runId],
  );
  await client.query(
    `insert into member_rows (tenant_id, member_key, data)
     select $1, s.${key}, s.data from ${layout.table} s where s.valid`,
    [tenant.id],
  );
  const onPlatformCount = inserted.rows.find((r) => r.on_platform)?.n ?? 0;
  const others = inserted.rows.find((r) => !r.on_platform)?.n ?? 0;
  const counts = options.baseline
    ? { ...emptyCounts(), unchanged: onPlatformCount }
    : { ...emptyCounts(), invites: onPlatformCount, notInvitable: others };
  await recordRun(run, staged, 'accepted', { key, counts, reasons: options.baseline ? [`baseline: ${onPlatformCount} members on the platform`] : [] });
  return { runId, status: 'accepted', members: onPlatformCount + others, leftOut: 0 };
}

/** Invalid-row policy "reject": the file is rejected as a whole. */
export function invalidRowsRejection(staged: StagedFile, checked: CheckedFile): RunRecord {
  return {
    key: checked.key,
    warnings: checked.warnings,
    reasons: [
      `${checked.rows.invalid.toLocaleString('en-US')} invalid row(s), ${staged.writer.stats.errorCount.toLocaleString('en-US')} error(s): ` +
        'the file is rejected as a whole (invalid-row policy "reject"); nothing was applied',
    ],
  };
}

/** The diff, and (a file without a status or eligibility column) the invites that missing column causes. */
export type RunDiff = DiffResult & { keptOut?: KeptOutInvites };

/** The diff against the stored members (the members no row mentioned first, from the row filter). */
export async function diffFile(run: RunContext, staged: StagedFile, checked: CheckedFile): Promise<RunDiff> {
  const { client, tenant, runId, clock } = run;
  const { filter, layout } = staged;
  const filtered = filter ? await filter.writeAbsent(client, `${layout.table}_absent`, tenant.id) : null;
  if (filter) clock.mark('absentMs');
  const diff = await diffAgainstMembers(client, layout, checked.key, tenant.id, runId, filtered);
  const keptOut = filter && diff.counts.invites > 0 ? await keptOutInvites(client, layout, checked.key, filter.keyColumn, tenant.id) : undefined;
  clock.mark('diffMs');
  return { ...diff, keptOut };
}

/**
 * The guardrails, and what skipped invalid rows add: the reasons to hold the run (none: accepted; preview
 * --against PREVIOUS applies whatever they say) and the run's warnings.
 */
export function applyGuardrails(
  run: RunContext,
  staged: StagedFile,
  checked: CheckedFile,
  diff: RunDiff,
): { status: RunStatus; reasons: string[]; warnings: string[] } {
  const { key, rows } = checked;
  const reasons = guardrailReasons(run.tenant.guardrails as Guardrails, {
    records: staged.totals.records,
    deletions: diff.counts.deletions,
    onPlatformBefore: diff.onPlatformBefore,
    previousRows: run.previous ? run.previous.rows : null,
    fileDate: run.options.fileDate ? isoDay(run.options.fileDate) : null,
    // A previous run that is itself a preview's scratch run (`preview --against`) is no run anyone can open: no id.
    previous: run.previous && {
      runId: run.previous.sha256.startsWith('preview:') ? null : run.previous.id,
      fileDate: run.previous.file_date ? isoDay(run.previous.file_date) : null,
    },
    counts: diff.counts,
    keptOut: diff.keptOut,
  });
  const warnings = [...checked.warnings];
  if (rows.invalid > 0) {
    warnings.push(
      `${rows.invalid.toLocaleString('en-US')} invalid row(s) skipped (invalid-row policy "skip"); ` +
        `${diff.carried.toLocaleString('en-US')} stored member(s) carried forward unchanged`,
    );
    reasons.push(
      ...skippedRowReasons({
        key,
        withoutKey: rows.invalidWithoutKey,
        unmatched: rows.invalidUnmatched,
        sharedKey: rows.invalidSharedKey,
        deletions: diff.counts.deletions,
      }),
    );
  }
  const status: RunStatus = reasons.length > 0 && !run.options.force ? 'held' : 'accepted';
  return { status, reasons, warnings };
}

/** An accepted run's changes move the tenant's stored state. */
export async function applyRun(run: RunContext, key: KeyField): Promise<void> {
  await applyRunChanges(run.client, run.tenant.id, run.runId, { stored: run.previous?.key_field ?? null, run: key });
  run.clock.mark('applyMs');
}

/** The run row's outcome (status, counts, reasons, timings); the staging tables go. */
export async function recordRun(run: RunContext, staged: StagedFile, status: RunStatus, fields: RunRecord): Promise<ProcessResult> {
  const { client, tenant, fileName, options, runId } = run;
  const { header, totals, writer, layout } = staged;
  await finishRun(client, runId, {
    status,
    sha256: options.scratch ? `preview:${totals.sha256}` : totals.sha256,
    key: fields.key,
    rows: totals.records,
    counts: fields.counts ?? emptyCounts(),
    errorCount: writer.stats.errorCount,
    warnings: [...header.warnings, ...(fields.warnings ?? []), ...fileNameDateWarning(fileName, options)],
    reasons: fields.reasons ?? [],
    columns: header.columns,
    duplicateOf: fields.duplicateOf ?? null,
    timings: run.clock.total(),
  });
  await client.query(`drop table if exists ${layout.table}, ${layout.table}_absent`);
  // A drop run's logger is already bound to the tenant (src/drop/tenant-run.ts): pino would write it twice.
  const tenantBound = options.logger?.bindings().tenant !== undefined;
  options.logger?.info(
    { ...(tenantBound ? {} : { tenant: tenant.id }), file: fileName, runId, status, rows: totals.records, errors: writer.stats.errorCount, ms: Math.round(now() - run.clock.started) },
    'run finished',
  );
  return { runId, status, leftOut: staged.filter?.skipped ?? 0 };
}

/**
 * The stored members, in memory, keyed the way this run matches rows (none for a first file or a
 * baseline, which do not diff against stored members).
 */
export async function loadKnownMembers(run: RunContext): Promise<KnownIndex | null> {
  const { client, tenant, previous, options } = run;
  if (options.baseline) return null;
  if (!previous?.key_field) {
    const stored = await client.query('select 1 from members where tenant_id = $1 limit 1', [tenant.id]);
    if (stored.rows.length > 0) throw new Error(`tenant ${tenant.id} has stored members but no accepted run to tell how they are keyed`);
    return null;
  }
  const key = tenant.key === 'auto' ? previous.key_field : tenant.key;
  // A changed key setting re-keys the store only once the run is known to go ahead; until then the
  // members are matched by the column that holds the new key.
  const keyColumn = key === previous.key_field ? 'member_key' : key;
  const known: KnownIndex = { members: await KnownMembers.load(client, tenant.id, keyColumn), key, keyColumn };
  run.clock.mark('knownMs');
  return known;
}
