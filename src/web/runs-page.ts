import type pg from 'pg';
import { capList, cut } from '../text/bounded.js';

interface RunRow {
  id: string;
  tenant_id: string;
  file_name: string;
  status: string;
  rows: number;
  counts: Record<string, number>;
  error_count: number;
  reasons: string[];
  created_at: Date;
}

const COUNT_COLUMNS = ['invites', 'updates', 'deactivations', 'reactivations', 'deletions'] as const;

/** Each cell's customer text is cut (a 2 MB file name or a 20,000-item reason list stays a table row). */
const SHOWN = { tenant: 60, fileName: 120, reason: 200, reasons: 3 } as const;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * The latest runs, newest first: what happened to each file, with counts only (never member data).
 * Read-only; approving held runs is done with the CLI.
 */
export async function renderRunsPage(pool: pg.Pool, options: { tenant?: string; limit?: number } = {}): Promise<string> {
  const result = await pool.query<RunRow>(
    `select id, tenant_id, file_name, status, rows, counts, error_count, reasons, created_at
     from runs where ($1::text is null or tenant_id = $1) order by id desc limit $2`,
    [options.tenant ?? null, options.limit ?? 100],
  );
  const rows = result.rows
    .map((run) => {
      const counts = COUNT_COLUMNS.map((name) => `<td class="n">${Number(run.counts?.[name] ?? 0)}</td>`).join('');
      const note = run.status === 'rejected' ? `${run.error_count} invalid` : capList(run.reasons ?? [], SHOWN.reasons, { itemMax: SHOWN.reason }).join('; ');
      return (
        `<tr class="${escapeHtml(run.status)}"><td class="n">${escapeHtml(String(run.id))}</td>` +
        `<td><a href="/runs?tenant=${encodeURIComponent(run.tenant_id)}">${escapeHtml(cut(run.tenant_id, SHOWN.tenant))}</a></td>` +
        `<td title="${escapeHtml(cut(run.file_name, 1000))}">${escapeHtml(cut(run.file_name, SHOWN.fileName))}</td><td>${escapeHtml(run.status)}</td><td class="n">${run.rows}</td>${counts}` +
        `<td>${escapeHtml(note)}</td><td>${escapeHtml(new Date(run.created_at).toISOString())}</td></tr>`
      );
    })
    .join('\n');
  const title = options.tenant ? `Runs of ${escapeHtml(cut(options.tenant, SHOWN.tenant))}` : 'Runs';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hris-ingest: ${title}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; } td, th { padding: 4px 8px; border-bottom: 1px solid #ddd; text-align: left; }
td.n { text-align: right; } tr.rejected { background: #fdecea; } tr.held { background: #fff8e1; }
</style></head>
<body><h1>${title}</h1>
<p><a href="/runs">all tenants</a> · <a href="/healthz">health</a> · <a href="/metrics">metrics</a></p>
<table><thead><tr><th>run</th><th>tenant</th><th>file</th><th>status</th><th>rows</th>
${COUNT_COLUMNS.map((name) => `<th>${name}</th>`).join('')}<th>notes</th><th>at</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="12">no runs yet</td></tr>'}
</tbody></table></body></html>
`;
}
