import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import Cursor from 'pg-cursor';
import type pg from 'pg';
import type { Database } from '../store/db.js';
import type { RunSummary } from '../store/runs.js';
import { csvLine } from './csv-line.js';
import { outputFileName, type OutputKind } from './names.js';

type Files = RunSummary['files'];

const CURSOR_ROWS = 2000;

/**
 * Renders a stored run's files into OUT_DIR (streamed from run_changes / run_errors with a cursor) and
 * records them in run_files. Accepted and held runs: invites, updates, deletions (+ errors when rows
 * were skipped); rejected runs: errors; duplicates: nothing.
 */
export async function renderRunFiles(db: Database, runId: number, outDir: string): Promise<Files> {
  const client = await db.pool.connect();
  try {
    const files = await renderRunFilesWith(client, runId, outDir);
    for (const [kind, file] of Object.entries(files)) {
      await client.query(
        `insert into run_files (run_id, kind, file_name, row_count) values ($1, $2, $3, $4)
         on conflict (run_id, kind) do update set file_name = excluded.file_name, row_count = excluded.row_count, created_at = now()`,
        [runId, kind, file.path, file.rows],
      );
    }
    return Object.fromEntries(Object.entries(files).map(([kind, file]) => [kind, file.path]));
  } finally {
    client.release();
  }
}

export interface RenderedFile {
  path: string;
  rows: number;
}

/** Renders on one client (also inside a transaction that will be rolled back: preview). */
export async function renderRunFilesWith(
  client: pg.PoolClient,
  runId: number,
  outDir: string,
  options: { tenantLabel?: string; only?: OutputKind } = {},
): Promise<Partial<Record<OutputKind, RenderedFile>>> {
  const run = (
    await client.query<{ tenant_id: string; status: string; file_date: Date | null; created_at: Date; columns: string[]; error_count: number }>(
      'select tenant_id, status, file_date, created_at, columns, error_count from runs where id = $1',
      [runId],
    )
  ).rows[0];
  if (!run) throw new Error(`run ${runId} not found`);
  await mkdir(outDir, { recursive: true });
  const name = (kind: OutputKind) => path.join(outDir, outputFileName(options.tenantLabel ?? run.tenant_id, run.file_date ?? run.created_at, kind));
  const columns = run.columns.length > 0 ? run.columns : ['email'];
  const files: Partial<Record<OutputKind, RenderedFile>> = {};
  const wanted = (kind: OutputKind) => options.only === undefined || options.only === kind;

  if (run.status === 'accepted' || run.status === 'held') {
    const values = columns.map((c) => `coalesce(data->>${pgLiteral(c)}, '')`).join(', ');
    if (wanted('invites')) files.invites = await writeCsv(client, name('invites'), columns,
      `select ${values} from run_changes where run_id = $1 and kind = 'invite' order by line`, [runId]);
    if (wanted('updates')) files.updates = await writeCsv(client, name('updates'), [...columns, 'change_type', 'changed_fields'],
      `select ${values}, coalesce(change_type, 'update'), array_to_string(changed_fields, ';')
       from run_changes where run_id = $1 and kind = 'update' order by line`, [runId]);
    if (wanted('deletions')) files.deletions = await writeCsv(client, name('deletions'), columns,
      `select ${values} from run_changes where run_id = $1 and kind = 'deletion' order by member_key`, [runId]);
  }
  if ((run.status === 'rejected' || run.status === 'accepted' || run.status === 'held') && run.error_count > 0 && wanted('errors')) {
    files.errors = await writeCsv(client, name('errors'), ['line', 'column', 'value', 'message'],
      `select coalesce(line::text, ''), coalesce(column_name, ''), coalesce(value, ''), message
       from run_errors where run_id = $1 order by line nulls first, seq`, [runId]);
  }
  return files;
}

function pgLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Streams a query's rows into a CSV file (written to a temp name, then renamed). */
async function writeCsv(client: pg.PoolClient, file: string, header: string[], sql: string, params: unknown[]): Promise<RenderedFile> {
  const temp = `${file}.part`;
  const out = createWriteStream(temp);
  const closed = once(out, 'close');
  closed.catch(() => undefined);
  const cursor = client.query(new Cursor<string[]>(sql, params, { rowMode: 'array' }));
  let rows = 0;
  try {
    out.write(csvLine(header));
    let next = cursor.read(CURSOR_ROWS);
    for (;;) {
      const batch = await next;
      if (batch.length === 0) break;
      // The next rows are asked for before these are written: PostgreSQL reads and extracts them while
      // Node builds these lines (a 1M-row first file's files, three runs each, alternating: 7.3-7.8 s
      // against 7.5-8.9 s one after the other; Node's share, parsing 19 text fields a row, is most of it).
      next = cursor.read(CURSOR_ROWS);
      next.catch(() => undefined); // awaited on the next turn, or the run failed anyway
      rows += batch.length;
      if (!out.write(batch.map(csvLine).join(''))) await once(out, 'drain');
    }
    await cursor.close();
    out.end();
    await closed;
  } catch (error) {
    // No cursor.close() after an error: pg-cursor then waits for a ready-for-query message that a dead
    // connection never sends, and the alert delivery hung for good after a PostgreSQL restart
    // (test/soak.postgres-restart.test.ts). The failed read already ended the portal.
    out.destroy();
    await closed.catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  await rename(temp, file);
  return { path: file, rows };
}
