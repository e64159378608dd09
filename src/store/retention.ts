import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Database } from './db.js';
import { transaction } from './db.js';
import { forgetExpiredPreviews } from './console-previews.js';
import { materializeMemberRows } from './member-rows.js';
import { lockTenant } from './runs.js';

export interface PurgeResult {
  runs: number;
  changes: number;
  errors: number;
  files: number;
  /** The local notifier's folders of the purged runs' alerts (copies of their files), when it has a folder. */
  alertFolders: number;
}

/**
 * Runs retention removes: older than $1 days, not purged yet, and not awaiting a decision. A decided run's
 * age counts from its decision: a held run approved after retentionDays was purged (its files with it) on
 * the next pass, before anyone could upload them.
 */
const OLD_RUNS =
  `coalesce(decided_at, created_at) < now() - make_interval(days => $1) and (status <> 'held' or superseded_by is not null) and purged_at is null`;

/**
 * Retention: the changes, errors and rendered files of runs older than DAYS are removed; the run
 * rows stay as history (marked purged_at). Held runs are kept whole while they await a decision; one
 * superseded (a later accepted run moved its base on) can no longer be decided, and goes like the others.
 *
 * One transaction per tenant, under the tenant's lock: retention writes the tenant's members (the rows
 * still kept in a purged run's changes move to member_rows), and a run reads the members over several
 * statements and applies to them under that lock (src/diff/known.ts). Without it, a member updated by
 * retention in between was loaded twice or not at all, and a member deleted by a run meanwhile was copied
 * back into member_rows.
 */
export async function purgeOldRuns(db: Database, days = 90, options: { alertsDir?: string } = {}): Promise<PurgeResult> {
  if (!Number.isFinite(days) || days < 0) throw new Error(`retention days must be a number >= 0, got ${days}`);
  const age = Math.floor(days);
  // Expired console previews' files (member data) go here too: the console's own sweep runs only where it is served.
  await forgetExpiredPreviews(db.pool);
  const tenants = await db.pool.query<{ tenant_id: string }>(`select distinct tenant_id from runs where ${OLD_RUNS} order by tenant_id`, [age]);
  const total: PurgeResult = { runs: 0, changes: 0, errors: 0, files: 0, alertFolders: 0 };
  for (const { tenant_id: tenantId } of tenants.rows) {
    const { result, ids } = await purgeTenant(db, tenantId, age);
    total.runs += result.runs;
    total.changes += result.changes;
    total.errors += result.errors;
    total.files += result.files;
    if (options.alertsDir) total.alertFolders += await removeAlertFolders(options.alertsDir, ids);
  }
  return total;
}

/**
 * The local notifier's folders of runs IDS (run-<id>-<outcome>, src/notify/local.ts): they hold copies of the
 * runs' member files, which retention removes with the runs' own.
 */
async function removeAlertFolders(alertsDir: string, ids: number[]): Promise<number> {
  if (ids.length === 0) return 0;
  const purged = new Set(ids.map(String));
  const names = await readdir(alertsDir).catch(() => [] as string[]);
  const folders = names.filter((name) => purged.has(/^run-(\d+)-/.exec(name)?.[1] ?? ''));
  for (const name of folders) await rm(path.join(alertsDir, name), { recursive: true, force: true });
  return folders.length;
}

/** One tenant's old runs, in a transaction of its own under the tenant's lock. */
async function purgeTenant(db: Database, tenantId: string, days: number): Promise<{ result: Omit<PurgeResult, 'alertFolders'>; ids: number[] }> {
  const { result, paths, ids } = await transaction(db.pool, async (client) => {
    await lockTenant(client, tenantId);
    const old = await client.query<{ id: number }>(`select id::int as id from runs where tenant_id = $2 and ${OLD_RUNS} for update`, [days, tenantId]);
    const ids = old.rows.map((r) => r.id);
    if (ids.length === 0) return { result: { runs: 0, changes: 0, errors: 0, files: 0 }, paths: [] as string[], ids };
    // Rows of members still kept in these runs' changes move to member_rows first (src/store/member-rows.ts).
    await materializeMemberRows(client, { runIds: ids });
    const changes = await client.query('delete from run_changes where run_id = any($1::bigint[])', [ids]);
    const errors = await client.query('delete from run_errors where run_id = any($1::bigint[])', [ids]);
    const files = await client.query<{ file_name: string }>('delete from run_files where run_id = any($1::bigint[]) returning file_name', [ids]);
    // A path another run still records is that run's file now (two files with one date have one output name,
    // the later run's overwrote the earlier's): it stays.
    const shared = await client.query<{ file_name: string }>('select distinct file_name from run_files where file_name = any($1::text[])', [
      files.rows.map((f) => f.file_name),
    ]);
    const kept = new Set(shared.rows.map((r) => r.file_name));
    await client.query('update runs set purged_at = now() where id = any($1::bigint[])', [ids]);
    return {
      result: { runs: ids.length, changes: changes.rowCount ?? 0, errors: errors.rowCount ?? 0, files: files.rowCount ?? 0 },
      paths: files.rows.map((f) => f.file_name).filter((file) => !kept.has(file)),
      ids,
    };
  });
  // After the commit: a file left behind by a crash here is harmless; a row pointing at nothing would not be.
  for (const file of paths) await rm(file, { force: true });
  return { result, ids };
}
