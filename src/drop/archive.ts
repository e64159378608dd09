import { appendFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { format } from 'date-fns/format';
import { stringify } from 'csv-stringify/sync';
import type { Database } from '../store/db.js';
import type { DropSession } from './client.js';
import { stillListed } from './discovery.js';
import type { TenantLayout } from './layout.js';
import type { DropFileRow } from './registry.js';

/** "name.csv" -> "name 20261123T120000.csv" when processed/ or rejected/ already holds the name. */
export function timestampedName(name: string, at: Date): string {
  const stamp = format(at, "yyyyMMdd'T'HHmmss");
  const ext = path.posix.extname(name);
  return `${name.slice(0, name.length - ext.length)} ${stamp}${ext}`;
}

async function ensureDir(session: DropSession, dir: string): Promise<void> {
  if ((await session.sftp.exists(dir)) !== 'd') await session.sftp.mkdir(dir, true);
}

/**
 * The file's own name in DIR, else a timestamped one. Only the file decides: a `<name>.errors.csv`
 * without its file is what a crash between the two steps below leaves, and is overwritten (counting it
 * as taken moved the file to a timestamped name beside a stray, possibly partial, errors file; found
 * by the soak's kill in the move, test/soak.short.test.ts).
 */
async function freeTarget(session: DropSession, dir: string, name: string): Promise<string> {
  const plain = path.posix.join(dir, name);
  if (!(await session.sftp.exists(plain))) return plain;
  for (let i = 0; ; i++) {
    const candidate = path.posix.join(dir, timestampedName(name, new Date(Date.now() + i * 1000)));
    if (!(await session.sftp.exists(candidate))) return candidate;
  }
}

/**
 * The errors file for a rejected file, in the same columns as the engine's "validation errors" file:
 * the run's row errors when it has any, then why the file was rejected (the run's reasons, with an
 * operator's rejection appended there; else the registry's, for a file too large), one row each.
 */
async function errorsFile(db: Database, row: DropFileRow, workDir: string): Promise<string> {
  let reasons: string[] = [];
  if (row.runId !== null) {
    const run = await db.pool.query<{ status: string; reasons: string[]; superseded_by: number | null }>(
      'select status, reasons, superseded_by::int as superseded_by from runs where id = $1',
      [row.runId],
    );
    const found = run.rows[0];
    reasons = found?.reasons ?? [];
    // A held run made moot goes where a rejected one goes: say why first, then why it was held.
    if (found?.status === 'held' && found.superseded_by !== null) {
      reasons = [
        `not applied: run ${row.runId} was held, then superseded by run ${found.superseded_by} (a later file was accepted); upload this file again if it is still wanted`,
        ...reasons.map((r) => `held: ${r}`),
      ];
    }
  }
  if (reasons.length === 0 && row.reason) reasons = [row.reason];
  const reasonRows = stringify(reasons.map((r) => ['', '', '', r]), { escape_formulas: true });
  if (row.runId !== null) {
    // Rendered without recording it in run_files: this copy lives in the poll's work folder, deleted
    // when the tenant's poll ends, and the run's recorded errors file must stay the one in the outputs.
    const { renderRunFilesWith } = await import('../output/render.js');
    const client = await db.pool.connect();
    const files = await renderRunFilesWith(client, row.runId, path.join(workDir, 'errors'), { only: 'errors' }).finally(() => client.release());
    if (files.errors) {
      await appendFile(files.errors.path, reasonRows);
      return files.errors.path;
    }
  }
  const file = path.join(workDir, 'reasons.errors.csv');
  const header = stringify([['line', 'column', 'value', 'message']]);
  await writeFile(file, header + (reasons.length > 0 ? reasonRows : stringify([['', '', '', 'rejected']])));
  return file;
}

/** Where a file went: moved (to MOVED_TO), already gone, or replaced by a newer upload under its name (left where it is). */
export type ArchiveResult = { movedTo: string } | { movedTo: null; why: 'gone' | 'replaced' };

/**
 * Moves a file by its outcome: accepted/duplicate to processed/, rejected/too_large to rejected/ with
 * `<name>.errors.csv` uploaded first (so a crash in between only repeats the upload). Only the file the
 * row is about: another size or mtime at its path is a newer upload (the customer's fix of a held or
 * rejected file, or one that came while a crash left this one unmoved), a file of its own that the next
 * listing takes; moving it would settle it unread.
 */
export async function archiveRemoteFile(
  session: DropSession,
  db: Database,
  layout: TenantLayout,
  row: DropFileRow,
  workDir: string,
): Promise<ArchiveResult> {
  if (!(await session.sftp.exists(row.path))) return { movedTo: null, why: 'gone' };
  if (!stillListed(await session.sftp.stat(row.path), row)) return { movedTo: null, why: 'replaced' };
  const rejected = row.outcome === 'rejected' || row.outcome === 'too_large';
  const dir = rejected ? layout.rejected : layout.processed;
  await ensureDir(session, dir);
  const target = await freeTarget(session, dir, row.fileName);
  if (rejected) {
    await session.sftp.put(await errorsFile(db, row, workDir), `${target}.errors.csv`);
  }
  await session.sftp.rename(row.path, target);
  // The customer may have uploaded a fix under the same name since the check above (a rejected file's
  // errors file is rendered and uploaded in between): what was moved must be the file the row is about.
  // A newer upload goes back to the inbox for the next listing, as if never touched.
  if (!stillListed(await session.sftp.stat(target), row)) {
    if (!(await session.sftp.exists(row.path))) await session.sftp.rename(target, row.path);
    if (rejected) await session.sftp.delete(`${target}.errors.csv`).catch(() => undefined);
    return { movedTo: null, why: 'replaced' };
  }
  return { movedTo: target };
}
