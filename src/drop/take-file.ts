/**
 * One stable file of a tenant to its outcome: the size limit, the download with ingestFile beside it, the outcome
 * recorded in drop_files (with the too-large alert), and the move to the outcome's folder on the drop
 * (archive.ts). Also the moves left over from earlier ticks and held runs decided since (settleTenant).
 * The tick loop that finds the files is src/drop/poller.ts.
 */
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { ingestFile, RunCommittedError, type RunSummary } from '../pipeline.js';
import { transaction } from '../store/db.js';
import { enqueueAlert } from '../store/outbox.js';
import { archiveRemoteFile } from './archive.js';
import type { ListedFile } from './discovery.js';
import { alertKeyProblem } from './pgp-alert.js';
import { findFile, forgetObservation, markDone, markSettling, recordAttemptFailed, recordOutcome, type DropFileRow } from './registry.js';
import type { FileResult, PollEvent, TenantRun } from './tenant-run.js';
import { downloadStable, type TransferResult } from './transfer.js';

/** next: go on with the tenant's next file; stop: retry this file next tick first; broken: the session may be dead. */
export type TakeResult = 'next' | 'stop' | 'broken';

/** One file being taken: where its outcome is reported (run.results and the file-end event). */
interface Taking {
  run: TenantRun;
  row: DropFileRow;
  file: ListedFile & { path: string };
  emit: (event: PollEvent) => void;
  report: (outcome: FileResult['outcome'], extra?: Partial<FileResult>) => void;
}

/** Downloads, ingests and archives one stable file. */
export async function takeFile(run: TenantRun, row: DropFileRow, file: ListedFile & { path: string }): Promise<TakeResult> {
  const taking = beginTaking(run, row, file);
  if (file.size > run.ctx.app.drop.maxFileBytes) return refuseTooLarge(taking);
  const local = path.join(run.workDir, `download-${row.id}.csv`);
  // The download and the run's work before its first row (its transaction, the tenant's lock, the stored
  // members in memory: 2-3 s for a million) go on at the same time; the file is read only once it is
  // downloaded and checked stable, and the run commits only then. With the download's read size
  // (transfer.ts), the take's part outside the engine went from 5.4-6.3 s to 1.4-2.1 s at 1M rows over
  // sshd (docs/bench.md). The download itself uses no database connection: the run holds one while it
  // waits for the download (embedded PGlite has only that one), so a failed download is recorded here,
  // once the run has rolled back and let go of it.
  const downloading = download(taking, local);
  try {
    const summary = await ingest(taking, local, downloading);
    const transfer = await downloading;
    if (!transfer.ok) return await downloadFailed(taking, transfer);
    if (!summary) return 'stop';
    return await recordIngested(taking, summary, transfer);
  } finally {
    await downloading; // never left writing to LOCAL (it does not reject)
    await rm(local, { force: true });
  }
}

/** The file-start event; the outcome, when reported, carries the time since. */
function beginTaking(run: TenantRun, row: DropFileRow, file: ListedFile & { path: string }): Taking {
  const { tenant } = run;
  const emit = run.ctx.onEvent ?? (() => undefined);
  const begun = performance.now();
  const report = (outcome: FileResult['outcome'], extra: Partial<FileResult> = {}): void => {
    run.results.push({ tenant: tenant.id, file: file.name, outcome, ...extra, durationMs: Math.round(performance.now() - begun) });
    emit({ type: 'file-end', tenant: tenant.id, file: file.name, outcome });
  };
  emit({ type: 'file-start', tenant: tenant.id, file: file.name });
  return { run, row, file, emit, report };
}

/** Over drop.maxFileBytes: not downloaded; outcome too_large, its own alert, moved to rejected/. */
async function refuseTooLarge({ run, row, file, report }: Taking): Promise<TakeResult> {
  const { ctx, tenant, logger } = run;
  const db = ctx.db.pool;
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
  report('too_large', { movedTo });
  return 'next';
}

/** The transfer, or why there is none: the file changed under it (reason), or the transfer failed (error). */
type Download = TransferResult | { ok: false; error: string };

/** The file to LOCAL, checked to be the file listed: the transfer, or why not (never a rejection). */
async function download({ run, file, emit }: Taking, local: string): Promise<Download> {
  const { ctx, tenant } = run;
  try {
    return await downloadStable(
      run.session,
      file.path,
      file,
      local,
      (transferred, total) => emit({ type: 'transfer-progress', tenant: tenant.id, file: file.name, transferred, total }),
      ctx.fastGet,
    );
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

/** A download that failed (the session may be dead) or found the file changing: recorded, and what the tenant's loop does next. */
async function downloadFailed({ run, row, file, report }: Taking, failure: Exclude<Download, { ok: true }>): Promise<TakeResult> {
  const { ctx, tenant, logger } = run;
  const db = ctx.db.pool;
  if ('error' in failure) {
    await recordAttemptFailed(db, row.id, `download: ${failure.error}`);
    logger.warn({ file: file.name, err: failure.error }, 'drop download failed; retried next tick');
    report('failed', { error: failure.error });
    return 'broken';
  }
  await forgetObservation(db, tenant.id, file.path);
  logger.info({ file: file.name, reason: failure.reason }, 'drop file still changing; taken when stable');
  report('changed', { error: failure.reason });
  return 'stop';
}

/** The tenant's claim went to another poller before this run committed: the run is rolled back. */
class ClaimLostError extends Error {
  override name = 'ClaimLostError';
}

/** The download failed or the file changed under it (takeFile records why): the run is rolled back. */
class DownloadAbandonedError extends Error {
  override name = 'DownloadAbandonedError';
}

/** The finished download, if it is whole and stable and the claim is still held; else the run must roll back. */
async function usableDownload(run: TenantRun, downloading: Promise<Download>): Promise<{ bytes: number; sha256: string }> {
  const transfer = await downloading;
  if (!transfer.ok) throw new DownloadAbandonedError('the download did not complete');
  if (run.claimLost) throw new ClaimLostError('claim lost');
  return transfer;
}

/** LOCAL as the engine reads it: its bytes once usableDownload says so (else the read fails, and with it the run). */
function afterDownload(run: TenantRun, downloading: Promise<Download>, local: string): Readable {
  return Readable.from(
    (async function* () {
      await usableDownload(run, downloading);
      yield* createReadStream(local);
    })(),
    { objectMode: false },
  );
}

/**
 * The downloaded file through the pipeline (null: it failed, recorded as a failed attempt, or the claim
 * was lost and the run rolled back). The registry learns the outcome in the run's own transaction:
 * recorded after the commit, a crash in between (while the output files are written) left the file
 * pending, and the next tick made a second run and alert of it (found by the soak, test/soak.short.test.ts).
 */
async function ingest({ run, row, file, report }: Taking, local: string, downloading: Promise<Download>): Promise<RunSummary | null> {
  const { ctx, tenant, logger } = run;
  try {
    return await ingestFile(
      { db: ctx.db, logger },
      tenant,
      { name: file.name, open: () => afterDownload(run, downloading, local) },
      {
        source: 'drop',
        ...(ctx.outDir ? { outDir: ctx.outDir } : {}),
        beforeCommit: async (client, ran) => {
          // Whatever the reader made of a failed read (a decryption error is a rejection, for one), a run
          // commits only for a file downloaded whole and stable, while the claim is held.
          const { sha256 } = await usableDownload(run, downloading);
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
    if (error instanceof RunCommittedError) {
      // The run stands (its outcome is recorded with the file, its alert queued): not a failed ingest.
      logger.error({ file: file.name, runId: error.runId, status: error.status, err: error.message }, 'drop file ingested, but a step after its commit failed');
      if (error.summary) return error.summary; // only its files under outDir: the file moves as usual
      report('failed', { error: error.message }); // not read back: the next tick moves it by its recorded outcome
      return null;
    }
    // The run failed because its download did: takeFile records and reports that, once.
    if (!(await downloading).ok) return null;
    if (error instanceof ClaimLostError || run.claimLost) {
      report('failed', { error: 'claim lost' });
      return null;
    }
    const message = (error as Error).message;
    await recordAttemptFailed(ctx.db.pool, row.id, `ingest: ${message}`);
    await alertKeyProblem(ctx.db.pool, tenant.id, row, error);
    logger.error({ file: file.name, err: message }, 'ingest of a drop file failed; retried next tick');
    report('failed', { error: message });
    return null;
  }
}

/** The run (its outcome already recorded in drop_files by its transaction) moves the file by its outcome (held: stays). */
async function recordIngested({ run, file, report }: Taking, summary: RunSummary, transfer: { bytes: number; sha256: string }): Promise<TakeResult> {
  const { ctx, tenant, logger } = run;
  const db = ctx.db.pool;
  logger.info({ file: file.name, runId: summary.runId, status: summary.status, bytes: transfer.bytes }, 'drop file ingested');
  const ran = ofRun(summary);
  if (summary.status === 'held') {
    report('held', ran);
    return 'next';
  }
  const movedTo = await settleFile(run, (await findFile(db, tenant.id, file))!);
  report(summary.status, { ...ran, movedTo });
  return 'next';
}

function ofRun(summary: RunSummary): Partial<FileResult> {
  const { rows, counts, errorCount, files } = summary;
  return { ...(summary.runId !== undefined ? { runId: summary.runId } : {}), rows, counts, errorCount, files };
}

/** Archives an ingested file (or marks it done in read-only mode). */
export async function settleFile(run: TenantRun, row: DropFileRow): Promise<string | null> {
  const db = run.ctx.db.pool;
  if (run.ctx.app.drop.readOnly) {
    await markDone(db, row.id, null);
    return null;
  }
  const archived = await archiveRemoteFile(run.session, run.ctx.db, run.layout, row, run.workDir);
  const { movedTo } = archived;
  await markDone(db, row.id, movedTo);
  // A new upload under the same name must prove itself stable from scratch.
  await forgetObservation(db, row.tenantId, row.path);
  const what = !('why' in archived) ? 'drop file archived' : archived.why === 'gone' ? 'drop file already gone' : 'drop file replaced by a newer upload: left in the inbox';
  run.logger.info({ file: row.fileName, outcome: row.outcome, movedTo }, what);
  return movedTo;
}

/** Ingested files whose move is pending, and held files whose run was approved or rejected since. */
export async function settleTenant(run: TenantRun, rows: DropFileRow[]): Promise<void> {
  const db = run.ctx.db.pool;
  for (const row of rows) {
    if (run.claimLost) return;
    let current = row;
    if (row.state === 'held') {
      if (row.runStatus !== 'accepted' && row.runStatus !== 'rejected' && row.runStatus !== 'superseded') continue;
      // A superseded run will never be applied: its file goes where a rejected one goes.
      const outcome = row.runStatus === 'superseded' ? 'rejected' : row.runStatus;
      await markSettling(db, row.id, outcome);
      current = { ...row, state: 'ingested', outcome };
    }
    const movedTo = await settleFile(run, current);
    run.results.push({ tenant: row.tenantId, file: row.fileName, outcome: 'settled', ...(row.runId !== null ? { runId: row.runId } : {}), movedTo });
  }
}
