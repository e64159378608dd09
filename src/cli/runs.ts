import { terminalName } from '../text/terminal.js';
import type { Command } from 'commander';
import { runAlerts } from '../notify/status.js';
import { approveRun, rejectRun, RunCommittedError } from '../pipeline.js';
import type { Queryable } from '../store/db.js';
import { recordAudit } from '../store/console-audit.js';
import { loadRunSummary } from '../store/runs.js';
import { cliActor, cliLogger, EXIT, loadCliContext, osUser, outputDir, positiveInteger, withDatabase } from './context.js';
import { exitCodeFor, printRunSummary, toJsonSummary } from './summary.js';
import { formatAlertLines } from './alerts.js';

interface ListedRun {
  id: number;
  tenant: string;
  file: string;
  source: string;
  status: string;
  rows: number;
  errorCount: number;
  counts: Record<string, number>;
  createdAt: string;
  decidedBy: string | null;
  /** Added field: the accepted run that made this held run moot (status stays "held"). */
  supersededBy: number | null;
}

export function register(program: Command): void {
  const runs = program.command('runs').description('the run history; approve or reject held runs');

  runs
    .command('list')
    .description('recent runs, newest first')
    .option('--tenant <id>', 'only this tenant')
    .option('--limit <n>', 'how many runs', positiveInteger, 20)
    .option('--json', 'print one JSON object on the last line of stdout')
    .action(async (options: { tenant?: string; limit: number; json?: boolean }) => {
      const ctx = await loadCliContext();
      const list = await withDatabase(ctx.app, (db) => listRuns(db.pool, options.tenant, options.limit));
      if (options.json) console.log(JSON.stringify({ runs: list }));
      else console.log(formatRunList(list));
      process.exitCode = EXIT.ok;
    });

  runs
    .command('show')
    .description('one run: status, counts, errors, files (exit code by its status)')
    .argument('<id>', 'run id', positiveInteger)
    .option('--json', 'print one JSON object on the last line of stdout')
    .action(async (id: number, options: { json?: boolean }) => {
      const ctx = await loadCliContext();
      const [summary, alerts] = await withDatabase(ctx.app, async (db) => [await loadRunSummary(db.pool, id), await runAlerts(db.pool, id)] as const);
      // The run's alerts (delivered, pending, failed) after the summary; in --json, an added "alerts" field.
      if (options.json) {
        console.log(JSON.stringify({ ...toJsonSummary(summary), alerts }));
        process.exitCode = exitCodeFor(summary.status);
      } else {
        process.exitCode = printRunSummary(summary);
        for (const line of formatAlertLines(alerts)) console.log(line);
      }
    });

  runs
    .command('approve')
    .description('apply a held run: moves the snapshot and writes its files')
    .argument('<id>', 'run id', positiveInteger)
    .option('--by <name>', 'who approves (default: the OS user)')
    .option('--out <dir>', 'folder for the output files (default ./out)')
    .option('--json', 'print one JSON object on the last line of stdout')
    .action(async (id: number, options: { by?: string; out?: string; json?: boolean }) => {
      const ctx = await loadCliContext();
      const outDir = await outputDir(options.out);
      const logger = cliLogger(ctx.app);
      const by = options.by ?? osUser();
      const summary = await withDatabase(ctx.app, async (db) => {
        const approved = await approveRun({ db, logger }, ctx.tenants, id, by, { outDir }).catch(async (error: unknown) => {
          // Approved all the same (its files failed after the commit): the decision is audited before the error.
          if (error instanceof RunCommittedError) await recordAudit(db.pool, { actor: cliActor(by), action: 'approve', detail: `run ${id}` });
          throw error;
        });
        await recordAudit(db.pool, { actor: cliActor(by), action: 'approve', detail: `run ${id} (${approved.tenant})` });
        return approved;
      });
      process.exitCode = printRunSummary(summary, { json: options.json });
    });

  runs
    .command('reject')
    .description('reject a held run: nothing is applied, the snapshot stays')
    .argument('<id>', 'run id', positiveInteger)
    .option('--by <name>', 'who rejects (default: the OS user)')
    .option('--reason <text>', 'why (kept with the run)')
    .option('--json', 'print one JSON object on the last line of stdout')
    .action(async (id: number, options: { by?: string; reason?: string; json?: boolean }) => {
      const ctx = await loadCliContext();
      const logger = cliLogger(ctx.app);
      const by = options.by ?? osUser();
      const summary = await withDatabase(ctx.app, async (db) => {
        const rejected = await rejectRun({ db, logger }, id, by, options.reason);
        const why = options.reason?.trim() ? `: ${options.reason.trim()}` : '';
        await recordAudit(db.pool, { actor: cliActor(by), action: 'reject', detail: `run ${id} (${rejected.tenant})${why}` });
        return rejected;
      });
      printRunSummary(summary, { json: options.json });
      // The operator's decision took effect: success, so `runs reject N && ...` scripts go on.
      process.exitCode = EXIT.ok;
    });
}

async function listRuns(db: Queryable, tenant: string | undefined, limit: number): Promise<ListedRun[]> {
  const result = await db.query<{
    id: number; tenant_id: string; file_name: string; source: string; status: string; rows: number; error_count: number;
    counts: Record<string, number>; created_at: Date; decided_by: string | null; superseded_by: number | null;
  }>(
    `select id::int as id, tenant_id, file_name, source, status, rows, error_count, counts, created_at, decided_by,
            superseded_by::int as superseded_by
     from runs where ($1::text is null or tenant_id = $1) order by id desc limit $2`,
    [tenant ?? null, limit],
  );
  return result.rows.map((r) => ({
    id: r.id,
    tenant: r.tenant_id,
    file: r.file_name,
    source: r.source,
    status: r.status,
    rows: r.rows,
    errorCount: r.error_count,
    counts: r.counts,
    createdAt: r.created_at.toISOString(),
    decidedBy: r.decided_by,
    supersededBy: r.superseded_by,
  }));
}

function formatRunList(list: ListedRun[]): string {
  if (list.length === 0) return 'no runs';
  const header = ['id', 'when (UTC)', 'tenant', 'status', 'rows', 'inv', 'upd', 'del', 'errors', 'file'];
  const rows = list.map((r) => [
    String(r.id),
    r.createdAt.slice(0, 16).replace('T', ' '),
    r.tenant,
    r.source === 'baseline' ? 'baseline' : r.supersededBy !== null && r.status === 'held' ? `held, superseded by ${r.supersededBy}` : r.status,
    String(r.rows),
    String(r.counts.invites ?? 0),
    String(r.counts.updates ?? 0),
    String(r.counts.deletions ?? 0),
    String(r.errorCount),
    terminalName(r.file),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}
