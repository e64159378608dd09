import './heap.js';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type pg from 'pg';
import type { TenantConfig } from './config/tenant.js';
import { openMembershipFile, type OpenedFile } from './csv/open.js';
import type { Logger } from './log.js';
import { enqueueAlert } from './store/outbox.js';
import { supersedeHeldRuns } from './store/supersede.js';
import { applyRunChanges } from './diff/apply.js';
import { processFile, type ProcessOptions } from './diff/run.js';
import { previewInMemory } from './preview/preview.js';
import type { MembershipSource } from './diff/source.js';
import { fileDateFromName } from './output/file-date.js';
import { renderRunFiles, renderRunFilesWith } from './output/render.js';
import { transaction, type Database } from './store/db.js';
import { analyzeAfterBigRun } from './store/run-changes-stats.js';
import { recordRunEncryption } from './store/run-encryption.js';
import { decideRun, getRun, lastAcceptedRun, loadRunSummary, lockTenant, type RunSummary } from './store/runs.js';

export type { RunStatus, RunSummary } from './store/runs.js';
export { UnusableFileError } from './diff/run.js';

export interface FileInput {
  name: string;
  /** May be called more than once. */
  open(): Readable;
}

export interface PipelineContext {
  db: Database;
  logger?: Logger;
  onProgress?: (records: number) => void;
}

/** A held run cannot be approved or rejected (not held, or its base moved on). */
export class RunDecisionError extends Error {
  override name = 'RunDecisionError';
}

/**
 * A step after the run's commit failed (writing its files, reading its summary back): the run stands as
 * committed, with its outcome and its alert. SUMMARY is there when only the files failed. Nothing retries the
 * file: its files render again from the stored run (the alert, the console's downloads).
 */
export class RunCommittedError extends Error {
  override name = 'RunCommittedError';
  constructor(
    readonly runId: number,
    readonly status: RunSummary['status'],
    readonly summary: RunSummary | null,
    cause: unknown,
  ) {
    super(`run ${runId} was recorded as ${status}, but ${summary ? 'writing its files' : 'reading it back'} failed: ${(cause as Error).message}`);
  }
}

/** The file's reader, started when called: an OpenPGP file is decrypted on the way (OPENED tells how). */
function readerOf(file: FileInput, tenant: TenantConfig, opened: OpenedFile = {}): () => MembershipSource {
  return () => openMembershipFile(file, tenant, { batchSize: BATCH_SIZE }, opened);
}

/** Rows per staging insert: big enough to amortise a round trip, small enough to keep memory flat. */
const BATCH_SIZE = 2000;

/**
 * A transaction for staging a file. On a server, the session's temp_buffers are raised first (only
 * possible before the session touches a temporary table, hence the ignored error on a reused
 * connection that already has them): with the default 8MB, every scan of a big staging table goes
 * through temp files. Embedded PGlite keeps its defaults (its memory is this process's).
 */
function stagingTransaction<T>(db: Database, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  if (db.embedded) return transaction(db.pool, fn);
  return transaction(db.pool, fn, async (client) => {
    await client.query(`set temp_buffers = '${TEMP_BUFFERS}'`).catch(() => undefined);
  });
}

/** Per-session cap for temporary-table buffers on a server (allocated as used). */
const TEMP_BUFFERS = '512MB';

const baseOptions = (ctx: PipelineContext, file: FileInput) => ({
  fileDate: fileDateFromName(file.name),
  embedded: ctx.db.embedded,
  logger: ctx.logger,
  onProgress: ctx.onProgress,
});

/**
 * The full pipeline on one file: validate, diff against the tenant's last accepted snapshot, guardrails,
 * and in one transaction the run, its changes and errors, the snapshot move (accepted only) and the
 * alert. Then the output files, when OUT_DIR is given.
 */
export async function ingestFile(
  ctx: PipelineContext,
  tenant: TenantConfig,
  file: FileInput,
  options: {
    source?: 'local' | 'drop';
    outDir?: string;
    /** Runs in the run's transaction before it commits (the drop registry records the file's outcome); a throw rolls the run back. */
    beforeCommit?: (client: pg.PoolClient, run: { runId: number; status: RunSummary['status'] }) => Promise<void>;
  } = {},
): Promise<RunSummary> {
  const opened: OpenedFile = {};
  const { runId, status } = await stagingTransaction(ctx.db, async (client) => {
    const result = await processFile(client, tenant, file.name, readerOf(file, tenant, opened), {
      ...baseOptions(ctx, file),
      source: options.source ?? 'local',
      lock: true,
      duplicateCheck: true,
      force: false,
      baseline: false,
    });
    await recordRunEncryption(client, result.runId, opened.encryption);
    // The run's alert, in the run's transaction: it exists exactly when the run does.
    await enqueueAlert(client, { kind: 'run', tenantId: tenant.id, runId: result.runId });
    if (result.status === 'accepted') await supersedeHeldRuns(client, tenant.id, result.runId);
    await options.beforeCommit?.(client, result);
    return result;
  });
  // Before anything renders its files (here, the alert's delivery, the console): a big run's rows in line
  // order. Only statistics: the run has committed, so a failure here must not fail the ingest.
  if (status !== 'duplicate') await analyzeAfterBigRun(ctx.db.pool, runId).catch(() => false);
  // A held run's files would carry out what was held, under the names of the platform's files (and over an
  // accepted run's files of the same date): its approval writes them.
  return afterCommit(ctx, runId, status, status === 'duplicate' || status === 'held' ? undefined : options.outDir);
}

/**
 * What follows a run's commit (an ingest's, an approval's): its files into OUT_DIR, when given, and its
 * summary. A failure here cannot undo the run: it is a RunCommittedError, never the run's own failure.
 */
async function afterCommit(ctx: PipelineContext, runId: number, status: RunSummary['status'], outDir: string | undefined): Promise<RunSummary> {
  const files = outDir ? await renderRunFiles(ctx.db, runId, outDir).then(() => null, (error: unknown) => error) : null;
  const summary = await loadRunSummary(ctx.db.pool, runId).catch((error: unknown) => {
    throw new RunCommittedError(runId, status, null, error);
  });
  if (files !== null) throw new RunCommittedError(runId, status, summary, files);
  return summary;
}

/**
 * Validate and diff, store nothing: the same path as ingest inside a transaction that is rolled back
 * (files are rendered before). Without a database: the same diff in memory (src/preview/). With AGAINST, that file
 * is taken as the tenant's first file and FILE is diffed against it.
 */
export async function previewFile(
  ctx: PipelineContext | { db?: undefined; logger?: Logger; onProgress?: (n: number) => void },
  tenant: TenantConfig,
  file: FileInput,
  options: { against?: FileInput; outDir?: string } = {},
): Promise<RunSummary> {
  if (ctx.db) return previewOn(ctx.db, ctx, tenant, file, options);
  // Nothing stored is involved: the same diff in memory, no database (an embedded one cost ~3.6 s and
  // ~900 MB for a 20-row file; docs/bench.md).
  return previewInMemory(tenant, file, { ...options, logger: ctx.logger, onProgress: ctx.onProgress });
}

async function previewOn(
  db: Database,
  ctx: { logger?: Logger; onProgress?: (n: number) => void },
  tenant: TenantConfig,
  file: FileInput,
  options: { against?: FileInput; outDir?: string },
): Promise<RunSummary> {
  const client = await db.pool.connect();
  try {
    if (!db.embedded) await client.query(`set temp_buffers = '${TEMP_BUFFERS}'`).catch(() => undefined);
    // One snapshot for the whole preview: it takes no tenant lock, and the stored members are read in
    // several statements (src/diff/known.ts) while an ingest of the same tenant may commit.
    await client.query('begin isolation level repeatable read');
    const common: Omit<ProcessOptions, 'fileDate'> = {
      source: 'local',
      lock: false,
      // What ingest would do: content equal to the last accepted file (or a held run) is a duplicate.
      duplicateCheck: true,
      force: false,
      baseline: false,
      scratch: true,
      embedded: db.embedded,
      logger: ctx.logger,
      onProgress: ctx.onProgress,
    };
    // Against a previous file: a scratch tenant (rolled back) so the stored state is never touched.
    const target = options.against ? { ...tenant, id: `preview-${randomBytes(6).toString('hex')}` } : tenant;
    if (options.against) {
      await processFile(client, target, options.against.name, readerOf(options.against, tenant), {
        ...common,
        fileDate: fileDateFromName(options.against.name),
        force: true,
      });
    }
    const opened: OpenedFile = {};
    const { runId } = await processFile(client, target, file.name, readerOf(file, tenant, opened), {
      ...common,
      fileDate: fileDateFromName(file.name),
    });
    await recordRunEncryption(client, runId, opened.encryption);
    const summary = await loadRunSummary(client, runId);
    const files: RunSummary['files'] = {};
    if (options.outDir) {
      const rendered = await renderRunFilesWith(client, runId, options.outDir, { tenantLabel: tenant.id });
      for (const [kind, written] of Object.entries(rendered)) files[kind as keyof RunSummary['files']] = written.path;
    }
    return { ...summary, runId: undefined, tenant: tenant.id, files };
  } finally {
    await client.query('rollback').catch(() => undefined);
    client.release();
  }
}

/** Applies a held run, if it was diffed against what is still the tenant's last accepted state. */
export async function approveRun(
  ctx: PipelineContext,
  tenants: Map<string, TenantConfig>,
  runId: number,
  by: string,
  options: { outDir?: string } = {},
): Promise<RunSummary> {
  void tenants; // the run holds everything needed; the tenant may since have left the config
  await transaction(ctx.db.pool, async (client) => {
    const run = await heldRun(client, runId, 'approved');
    const last = await lastAcceptedRun(client, run.tenant_id);
    if ((last?.id ?? null) !== run.base_run_id) {
      throw new RunDecisionError(
        `run ${runId} cannot be approved: it was compared with ${run.base_run_id ? `run ${run.base_run_id}` : 'an empty state (first file)'}, ` +
          `but the tenant's last accepted run is now ${last ? `run ${last.id}` : 'none'}; ingest the file again to diff it against the current state`,
      );
    }
    await applyRunChanges(client, run.tenant_id, runId, { stored: last?.key_field ?? null, run: run.key_field });
    await decideRun(client, runId, { status: 'accepted', by });
    await enqueueAlert(client, { kind: 'run', tenantId: run.tenant_id, runId });
    await supersedeHeldRuns(client, run.tenant_id, runId);
  });
  ctx.logger?.info({ runId, by }, 'held run approved');
  return afterCommit(ctx, runId, 'accepted', options.outDir);
}

/** Discards a held run: nothing is applied; the run stays in the history as rejected. */
export async function rejectRun(ctx: PipelineContext, runId: number, by: string, reason?: string): Promise<RunSummary> {
  await transaction(ctx.db.pool, async (client) => {
    const run = await heldRun(client, runId, 'rejected');
    await decideRun(client, runId, { status: 'rejected', by, reason });
    await enqueueAlert(client, { kind: 'run', tenantId: run.tenant_id, runId });
  });
  ctx.logger?.info({ runId, by }, 'held run rejected');
  return loadRunSummary(ctx.db.pool, runId);
}

async function heldRun(client: Parameters<typeof lockTenant>[0], runId: number, verb: string) {
  const found = await getRun(client, runId);
  if (!found) throw new RunDecisionError(`run ${runId} not found`);
  await lockTenant(client, found.tenant_id);
  const run = (await getRun(client, runId))!;
  if (run.status !== 'held') throw new RunDecisionError(`run ${runId} is ${run.status}: only a held run can be ${verb}`);
  if (run.superseded_by !== null) {
    const last = await lastAcceptedRun(client, run.tenant_id);
    throw new RunDecisionError(
      `run ${runId} cannot be ${verb}: it is superseded by run ${run.superseded_by}, accepted after it was held. ` +
        `It was compared with ${run.base_run_id ? `run ${run.base_run_id}` : 'an empty state (first file)'}, ` +
        `but the tenant's last accepted run is now ${last ? `run ${last.id}` : 'none'}; ingest the file again to diff it against the current state`,
    );
  }
  return run;
}

/** The platform's member export becomes the tenant's state, every member on the platform. */
export async function importBaseline(ctx: PipelineContext, tenant: TenantConfig, file: FileInput): Promise<{ members: number; runId: number }> {
  const result = await stagingTransaction(ctx.db, async (client) => {
    const taken = await processFile(client, tenant, file.name, readerOf(file, tenant), {
      ...baseOptions(ctx, file),
      source: 'baseline',
      lock: true,
      duplicateCheck: false,
      force: false,
      baseline: true,
    });
    await supersedeHeldRuns(client, tenant.id, taken.runId);
    return taken;
  });
  return { members: result.members ?? 0, runId: result.runId };
}

export { renderRunFiles } from './output/render.js';
export { outputFileName } from './output/names.js';
export { purgeOldRuns } from './store/retention.js';
