import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AppConfig } from '../config/app.js';
import type { TenantConfig } from '../config/tenant.js';
import { silentLogger, type Logger } from '../log.js';
import { ingestFile, type RunSummary } from '../pipeline.js';
import { enqueueAlert } from '../notify/outbox.js';
import { transaction, type Database } from '../store/db.js';
import { archiveRemoteFile } from './archive.js';
import { connectDrop, HostKeyError, resolveDropConnection, type DropConnection, type DropSession } from './client.js';
import { isCandidateName, orderFiles, type ListedFile } from './discovery.js';
import { recordDropFailure, recordDropSuccess } from './health.js';
import { tenantLayout, type TenantLayout } from './layout.js';
import {
  claimTenant,
  extendClaim,
  filesOfRun,
  findFile,
  forgetObservation,
  markDone,
  markSettling,
  observe,
  recordAttemptFailed,
  recordOutcome,
  registerFile,
  releaseTenant,
  unsettledFiles,
  type DropFileRow,
  type FileOutcomeKind,
} from './registry.js';
import { downloadStable } from './transfer.js';

export type PollEvent =
  | { type: 'file-start'; tenant: string; file: string }
  | { type: 'file-end'; tenant: string; file: string; outcome: FileResult['outcome'] }
  | { type: 'transfer-progress'; tenant: string; file: string; transferred: number; total: number };

export interface PollerContext {
  db: Database;
  app: AppConfig;
  tenants: Map<string, TenantConfig>;
  logger?: Logger;
  /** Identifies this poller in claims (default host:pid:random). */
  pollerId?: string;
  /** Default: from app.drop (or the development drop's own keys). */
  connection?: DropConnection;
  /** Where ingestFile writes the run's files (its default when absent). */
  outDir?: string;
  /** Replaces the database clock for the stability check (tests). */
  clock?: () => Date;
  onEvent?: (event: PollEvent) => void;
  /** fastGet tuning (default: ssh2's 64 parallel reads of 32 KiB). */
  fastGet?: { concurrency?: number; chunkSize?: number };
}

/** A file taken this tick; with its run's figures and written files once ingested. */
export interface FileResult extends Partial<Pick<RunSummary, 'rows' | 'counts' | 'errorCount' | 'files'>> {
  tenant: string;
  file: string;
  outcome:
    | FileOutcomeKind
    /** Not stable yet (or a file before it in order is not). */
    | 'waiting'
    /** Changed during the download: must be stable again. */
    | 'changed'
    /** Transfer or ingest failed: retried next tick. */
    | 'failed'
    /** An earlier outcome whose move was pending, or a held run decided since. */
    | 'settled';
  runId?: number;
  movedTo?: string | null;
  error?: string;
  /** From taking the file to its outcome (files taken this tick). */
  durationMs?: number;
}

export interface TickResult {
  /** The drop answered (false: unreachable or refused, e.g. host key). */
  reachable: boolean;
  error?: string;
  files: FileResult[];
  /** Tenants another replica was working on. */
  skippedTenants: string[];
}

export function defaultPollerId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

interface TenantRun {
  ctx: PollerContext;
  pollerId: string;
  logger: Logger;
  tenant: TenantConfig;
  layout: TenantLayout;
  session: DropSession;
  results: FileResult[];
  /** Set when the claim could not be extended: stop before doing anything else. */
  claimLost: boolean;
  workDir: string;
}

function newTenantRun(
  ctx: PollerContext,
  pollerId: string,
  logger: Logger,
  tenant: TenantConfig,
  session: DropSession,
  workDir: string,
  results: FileResult[] = [],
): TenantRun {
  return { ctx, pollerId, logger: logger.child({ tenant: tenant.id }), tenant, layout: tenantLayout(tenant), session, results, claimLost: false, workDir };
}

/**
 * One tick: connect, then for every tenant (up to schedule.maxParallelTenants at once, one poller per
 * tenant across replicas) settle earlier outcomes, observe the inbox and take the stable files in order.
 */
export async function pollOnce(ctx: PollerContext): Promise<TickResult> {
  const logger = ctx.logger ?? silentLogger;
  const pollerId = ctx.pollerId ?? defaultPollerId();
  let connection: DropConnection;
  try {
    connection = ctx.connection ?? (await resolveDropConnection(ctx.app));
  } catch (error) {
    const message = (error as Error).message;
    await recordDropFailure(ctx.db.pool, { where: 'drop', error: message, alertAfterFailures: ctx.app.drop.alertAfterFailures }, logger);
    return { reachable: false, error: message, files: [], skippedTenants: [] };
  }
  const where = `${connection.host}:${connection.port}`;
  let first: DropSession;
  try {
    first = await connectDrop(connection, logger);
  } catch (error) {
    const message = (error as Error).message;
    if (error instanceof HostKeyError) logger.error({ drop: where, seen: error.seen, pinned: error.expected ?? null }, 'drop host key refused');
    await recordDropFailure(ctx.db.pool, { where, error: message, alertAfterFailures: ctx.app.drop.alertAfterFailures }, logger);
    return { reachable: false, error: message, files: [], skippedTenants: [] };
  }
  await recordDropSuccess(ctx.db.pool, where, logger);

  const results: FileResult[] = [];
  const skippedTenants: string[] = [];
  const queue = [...ctx.tenants.values()];
  const workerCount = Math.max(1, Math.min(ctx.app.schedule.maxParallelTenants, queue.length));
  const worker = async (initial: DropSession | undefined): Promise<void> => {
    let session = initial;
    try {
      for (let tenant = queue.shift(); tenant; tenant = queue.shift()) {
        if (!session) {
          try {
            session = await connectDrop(connection, logger);
          } catch (error) {
            logger.warn({ drop: where, tenant: tenant.id, err: (error as Error).message }, 'drop connection failed; tenant left for the next tick');
            continue;
          }
        }
        const healthy = await pollTenantClaimed(ctx, pollerId, logger, session, tenant, results, skippedTenants);
        if (!healthy) {
          // The session may be dead (connection killed): the next tenant gets a fresh one.
          await session.close();
          session = undefined;
        }
      }
    } finally {
      await session?.close();
    }
  };
  await Promise.all(Array.from({ length: workerCount }, (_, i) => worker(i === 0 ? first : undefined)));
  return { reachable: true, files: results, skippedTenants };
}

/** Returns false when something failed in a way that may have broken the session. */
async function pollTenantClaimed(
  ctx: PollerContext,
  pollerId: string,
  logger: Logger,
  session: DropSession,
  tenant: TenantConfig,
  results: FileResult[],
  skippedTenants: string[],
): Promise<boolean> {
  const claimSeconds = ctx.app.drop.claimSeconds;
  if (!(await claimTenant(ctx.db.pool, tenant.id, pollerId, claimSeconds))) {
    logger.debug({ tenant: tenant.id }, 'tenant claimed by another poller');
    skippedTenants.push(tenant.id);
    return true;
  }
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'hris-drop-'));
  const run = newTenantRun(ctx, pollerId, logger, tenant, session, workDir, results);
  const heartbeat = setInterval(
    () => {
      extendClaim(ctx.db.pool, tenant.id, pollerId, claimSeconds)
        .then((held) => {
          if (!held) run.claimLost = true;
        })
        .catch(() => undefined);
    },
    Math.max(1000, (claimSeconds * 1000) / 3),
  );
  heartbeat.unref();
  try {
    await settleTenant(run, await unsettledFiles(ctx.db.pool, tenant.id));
    return await pollTenant(run);
  } catch (error) {
    run.logger.warn({ err: (error as Error).message }, 'tenant poll failed; retried next tick');
    return false;
  } finally {
    clearInterval(heartbeat);
    await releaseTenant(ctx.db.pool, tenant.id, pollerId).catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  }
}

async function listInbox(run: TenantRun): Promise<(ListedFile & { path: string })[] | null> {
  const { session, layout } = run;
  const kind = await session.sftp.exists(layout.inbox);
  if (kind !== 'd') {
    if (!run.ctx.app.drop.readOnly) {
      await session.sftp.mkdir(layout.inbox, true);
      run.logger.info({ inbox: layout.inbox }, 'created the tenant inbox on the drop');
    } else {
      run.logger.warn({ inbox: layout.inbox }, 'tenant inbox missing on the drop');
    }
    return null;
  }
  const entries = await session.sftp.list(layout.inbox);
  return entries
    .filter((entry) => entry.type === '-' && isCandidateName(entry.name))
    .map((entry) => ({
      name: entry.name,
      path: path.posix.join(layout.inbox, entry.name),
      size: entry.size,
      mtime: Math.floor(entry.modifyTime / 1000),
    }));
}

async function pollTenant(run: TenantRun): Promise<boolean> {
  const { ctx, tenant } = run;
  const db = ctx.db.pool;
  const listed = await listInbox(run);
  if (!listed) return true;
  const stable = await observe(db, tenant.id, listed, ctx.app.drop.stableSeconds, ctx.clock?.());
  for (const file of orderFiles(listed)) {
    if (run.claimLost) return true;
    let row = await findFile(db, tenant.id, file);
    if (row?.state === 'done') {
      if (ctx.app.drop.readOnly) continue;
      // Back in the inbox with the same size and mtime (a re-upload): take it again; identical
      // content is recorded as a duplicate by the engine.
      await db.query(`update drop_files set state = 'pending', outcome = null, run_id = null, moved_to = null, updated_at = now() where id = $1`, [row.id]);
      row = await findFile(db, tenant.id, file);
    }
    if (row && row.state !== 'pending') continue; // ingested/held: settled above or awaiting a decision
    if (!stable.has(file.path)) {
      // Later files wait too: files of a tenant are applied oldest first.
      run.results.push({ tenant: tenant.id, file: file.name, outcome: 'waiting' });
      return true;
    }
    row ??= await registerFile(db, tenant.id, file);
    const next = await takeFile(run, row, file);
    // Files of a tenant are applied in order: one that could not be taken holds back the later ones.
    if (next === 'broken') return false;
    if (next === 'stop') return true;
  }
  return true;
}

/** The tenant's claim went to another poller before this run committed: the run is rolled back. */
class ClaimLostError extends Error {
  override name = 'ClaimLostError';
}

/** next: go on with the tenant's next file; stop: retry this file next tick first; broken: the session may be dead. */
type TakeResult = 'next' | 'stop' | 'broken';

/** Downloads, ingests and archives one stable file. */
async function takeFile(run: TenantRun, row: DropFileRow, file: ListedFile & { path: string }): Promise<TakeResult> {
  const { ctx, tenant, logger } = run;
  const db = ctx.db.pool;
  const emit = ctx.onEvent ?? (() => undefined);
  const begun = performance.now();
  const result = (outcome: FileResult['outcome'], extra: Partial<FileResult> = {}): void => {
    run.results.push({ tenant: tenant.id, file: file.name, outcome, ...extra, durationMs: Math.round(performance.now() - begun) });
    emit({ type: 'file-end', tenant: tenant.id, file: file.name, outcome });
  };
  emit({ type: 'file-start', tenant: tenant.id, file: file.name });

  if (file.size > ctx.app.drop.maxFileBytes) {
    const reason = `file is ${file.size} bytes; the limit is ${ctx.app.drop.maxFileBytes} bytes (drop.maxFileBytes)`;
    logger.warn({ file: file.name, bytes: file.size, limit: ctx.app.drop.maxFileBytes }, 'drop file too large: rejected');
    // No run exists for it, so the alert is its own; recorded with the outcome, so neither is lost without the other.
    await transaction(db, async (client) => {
      if (!(await recordOutcome(client, row.id, { kind: 'too_large', reason, pollerId: run.pollerId }))) return;
      await enqueueAlert(client, {
        kind: 'file_too_large',
        tenantId: tenant.id,
        payload: { file: file.name, bytes: file.size, limit: ctx.app.drop.maxFileBytes, moved: !ctx.app.drop.readOnly },
      });
    });
    const movedTo = await settleFile(run, (await findFile(db, tenant.id, file))!);
    result('too_large', { movedTo });
    return 'next';
  }

  const local = path.join(run.workDir, `download-${row.id}.csv`);
  try {
    let transfer;
    try {
      transfer = await downloadStable(
        run.session,
        file.path,
        file,
        local,
        (transferred, total) => emit({ type: 'transfer-progress', tenant: tenant.id, file: file.name, transferred, total }),
        ctx.fastGet,
      );
    } catch (error) {
      const message = (error as Error).message;
      await recordAttemptFailed(db, row.id, `download: ${message}`);
      logger.warn({ file: file.name, err: message }, 'drop download failed; retried next tick');
      result('failed', { error: message });
      return 'broken';
    }
    if (!transfer.ok) {
      await forgetObservation(db, tenant.id, file.path);
      logger.info({ file: file.name, reason: transfer.reason }, 'drop file still changing; taken when stable');
      result('changed', { error: transfer.reason });
      return 'stop';
    }
    if (run.claimLost) {
      result('failed', { error: 'claim lost' });
      return 'stop';
    }
    const sha256 = transfer.sha256;
    let summary;
    try {
      summary = await ingestFile(
        { db: ctx.db, logger },
        tenant,
        { name: file.name, open: () => createReadStream(local) },
        {
          source: 'drop',
          ...(ctx.outDir ? { outDir: ctx.outDir } : {}),
          // The registry learns the outcome in the run's own transaction: recorded after the commit, a
          // crash in between (while the output files are written) left the file pending, and the next
          // tick made a second run and alert of it (found by the soak, test/soak.short.test.ts).
          beforeCommit: async (client, ran) => {
            const reasons = (await client.query<{ reasons: string[] }>('select reasons from runs where id = $1', [ran.runId])).rows[0]?.reasons ?? [];
            const recorded = await recordOutcome(client, row.id, {
              kind: ran.status,
              runId: ran.runId,
              sha256,
              ...(reasons.length > 0 ? { reason: reasons.join('; ') } : {}),
              pollerId: run.pollerId,
            });
            // Another poller took this tenant over (our claim expired) and recorded the file first.
            if (!recorded) throw new ClaimLostError();
          },
        },
      );
    } catch (error) {
      if (error instanceof ClaimLostError) {
        result('failed', { error: 'claim lost' });
        return 'stop';
      }
      const message = (error as Error).message;
      await recordAttemptFailed(db, row.id, `ingest: ${message}`);
      logger.error({ file: file.name, err: message }, 'ingest of a drop file failed; retried next tick');
      result('failed', { error: message });
      return 'stop';
    }
    logger.info({ file: file.name, runId: summary.runId, status: summary.status, bytes: transfer.bytes }, 'drop file ingested');
    const ran = ofRun(summary);
    if (summary.status === 'held') {
      result('held', ran);
      return 'next';
    }
    const movedTo = await settleFile(run, (await findFile(db, tenant.id, file))!);
    result(summary.status, { ...ran, movedTo });
    return 'next';
  } finally {
    await rm(local, { force: true });
  }
}

function ofRun(summary: RunSummary): Partial<FileResult> {
  const { rows, counts, errorCount, files } = summary;
  return { ...(summary.runId !== undefined ? { runId: summary.runId } : {}), rows, counts, errorCount, files };
}

/** Archives an ingested file (or marks it done in read-only mode). */
async function settleFile(run: TenantRun, row: DropFileRow): Promise<string | null> {
  const db = run.ctx.db.pool;
  if (run.ctx.app.drop.readOnly) {
    await markDone(db, row.id, null);
    return null;
  }
  const movedTo = await archiveRemoteFile(run.session, run.ctx.db, run.layout, row, run.workDir);
  await markDone(db, row.id, movedTo);
  // A new upload under the same name must prove itself stable from scratch.
  await forgetObservation(db, row.tenantId, row.path);
  run.logger.info({ file: row.fileName, outcome: row.outcome, movedTo }, movedTo ? 'drop file archived' : 'drop file already gone');
  return movedTo;
}

/** Ingested files whose move is pending, and held files whose run was approved or rejected since. */
async function settleTenant(run: TenantRun, rows: DropFileRow[]): Promise<void> {
  const db = run.ctx.db.pool;
  for (const row of rows) {
    if (run.claimLost) return;
    let current = row;
    if (row.state === 'held') {
      if (row.runStatus !== 'accepted' && row.runStatus !== 'rejected') continue;
      await markSettling(db, row.id, row.runStatus);
      current = { ...row, state: 'ingested', outcome: row.runStatus };
    }
    const movedTo = await settleFile(run, current);
    run.results.push({ tenant: row.tenantId, file: row.fileName, outcome: 'settled', ...(row.runId !== null ? { runId: row.runId } : {}), movedTo });
  }
}

/**
 * Moves the remote file of a held run that was approved or rejected (called by the CLI after
 * approve/reject; otherwise the next tick does it). False when the drop or the tenant's claim was
 * not available: the next tick settles it.
 */
export async function settleHeldFile(ctx: PollerContext, runId: number): Promise<boolean> {
  const logger = ctx.logger ?? silentLogger;
  const rows = await filesOfRun(ctx.db.pool, runId);
  if (rows.length === 0) return true;
  const tenant = ctx.tenants.get(rows[0]!.tenantId);
  if (!tenant) return false;
  const pollerId = ctx.pollerId ?? defaultPollerId();
  if (!(await claimTenant(ctx.db.pool, tenant.id, pollerId, ctx.app.drop.claimSeconds))) return false;
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'hris-drop-'));
  let session: DropSession | undefined;
  try {
    session = await connectDrop(ctx.connection ?? (await resolveDropConnection(ctx.app)), logger);
    const run = newTenantRun(ctx, pollerId, logger, tenant, session, workDir);
    await settleTenant(run, await filesOfRun(ctx.db.pool, runId));
    return true;
  } catch (error) {
    logger.warn({ tenant: tenant.id, runId, err: (error as Error).message }, 'could not move the held file now; the next tick will');
    return false;
  } finally {
    await session?.close();
    await releaseTenant(ctx.db.pool, tenant.id, pollerId).catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  }
}
