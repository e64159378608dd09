/**
 * The poller's tick loop: connect to the drop, share the tenants among up to schedule.maxParallelTenants
 * sessions, claim each tenant (one poller per tenant across replicas), list its inbox and take its stable
 * files in order. What happens to one file is src/drop/take-file.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { silentLogger, type Logger } from '../log.js';
import type { TenantConfig } from '../config/tenant.js';
import { connectDrop, HostKeyError, resolveDropConnection, type DropConnection, type DropSession } from './client.js';
import { isCandidateName, orderFiles, type ListedFile } from './discovery.js';
import { recordDropFailure, recordDropSuccess } from './health.js';
import { claimTenant, extendClaim, filesOfRun, findFile, observe, registerFile, releaseTenant, unsettledFiles } from './registry.js';
import { settleTenant, takeFile } from './take-file.js';
import { findUnconfiguredFolders, reportUnconfiguredFolders, type UnconfiguredFolder } from './unconfigured.js';
import { newTenantRun, type FileResult, type PollerContext, type TenantRun } from './tenant-run.js';

export type { FileResult, PollerContext, PollEvent } from './tenant-run.js';

export interface TickResult {
  /** The drop answered (false: unreachable or refused, e.g. host key). */
  reachable: boolean;
  error?: string;
  files: FileResult[];
  /** Tenants another replica was working on. */
  skippedTenants: string[];
  /** Drop folders with files in their inbox and no tenant config (src/drop/unconfigured.ts). */
  unconfiguredFolders?: UnconfiguredFolder[];
}

export function defaultPollerId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
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
  const unconfiguredFolders = await findUnconfiguredFolders(first, ctx.tenants.values(), ctx.refusedTenants?.() ?? [])
    .then(async (found) => {
      await reportUnconfiguredFolders(ctx.db, found, logger);
      return found;
    })
    .catch((error: unknown) => {
      logger.warn({ drop: where, err: (error as Error).message }, 'could not look for drop folders without a tenant');
      return undefined;
    });

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
  return { reachable: true, files: results, skippedTenants, ...(unconfiguredFolders ? { unconfiguredFolders } : {}) };
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

/**
 * Moves the remote file of a held run that was approved or rejected now, for a caller that has the drop
 * at hand. The CLI's and the console's decisions do not call it (they may run where the drop is not
 * reachable): the next tick settles the file. False when the drop or the tenant's claim was not available.
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
