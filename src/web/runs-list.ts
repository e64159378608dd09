import type { FastifyInstance } from 'fastify';
import type { ConsoleContext } from './context.js';
import { clip, FILE_NAME_CELL_MAX, html, query } from './html.js';
import { page, pageNumber, pager, sendPage, when } from './layout.js';
import { runStatus } from './run-state.js';

const PAGE_SIZE = 50;
const STATUSES = ['accepted', 'held', 'rejected', 'duplicate'] as const;

interface ListedRun {
  id: number;
  tenant_id: string;
  file_name: string;
  source: string;
  status: string;
  superseded_by: number | null;
  rows: number;
  counts: Record<string, number>;
  error_count: number;
  created_at: Date;
  applied: boolean;
}

/** GET /runs?tenant=&status=&page=: the runs of the configured tenants, newest first, paged. */
export function registerRunsList(app: FastifyInstance, ctx: ConsoleContext): void {
  app.get<{ Querystring: { tenant?: string; status?: string; page?: string } }>('/runs', async (request, reply) => {
    const tenant = typeof request.query.tenant === 'string' && ctx.tenants.has(request.query.tenant) ? request.query.tenant : '';
    const status = STATUSES.find((s) => s === request.query.status) ?? '';
    const current = pageNumber(request.query.page);
    const result = await ctx.db.pool.query<ListedRun>(
      `select r.id::int as id, r.tenant_id, r.file_name, r.source, r.status, r.superseded_by::int as superseded_by, r.rows, r.counts, r.error_count, r.created_at,
              exists (select 1 from run_applied a where a.run_id = r.id) as applied
       from runs r
       where r.tenant_id = any($1::text[]) and ($2 = '' or r.tenant_id = $2) and ($3 = '' or r.status = $3)
       order by r.id desc offset $4 limit $5`,
      [[...ctx.tenants.keys()], tenant, status, (current - 1) * PAGE_SIZE, PAGE_SIZE + 1],
    );
    const runs = result.rows.slice(0, PAGE_SIZE);
    const link = (n: number) => `/runs${query({ tenant, status, page: n > 1 ? n : undefined })}`;
    const rows = runs.map(
      (r) => html`<tr><td class="n"><a href="/runs/${r.id}">${r.id}</a></td><td>${r.tenant_id}</td><td>${clip(r.file_name, FILE_NAME_CELL_MAX)}</td>
  <td>${runStatus(r)}${r.applied ? html` <span class="muted">applied</span>` : null}</td>
  <td class="n">${r.rows}</td><td class="n">${r.counts.invites ?? 0}</td><td class="n">${r.counts.updates ?? 0}</td>
  <td class="n">${r.counts.deletions ?? 0}</td><td class="n">${r.error_count}</td><td>${when(r.created_at)}</td></tr>`,
    );
    const tenantOptions = [...ctx.tenants.values()].map((t) => html`<option value="${t.id}" ${t.id === tenant ? 'selected' : ''}>${t.name}</option>`);
    const statusOptions = STATUSES.map((s) => html`<option value="${s}" ${s === status ? 'selected' : ''}>${s}</option>`);
    const body = html`<form class="filters" method="get" action="/runs">
  <div><label for="tenant">Tenant</label><select id="tenant" name="tenant"><option value="">all tenants</option>${tenantOptions}</select></div>
  <div><label for="status">Status</label><select id="status" name="status"><option value="">any status</option>${statusOptions}</select></div>
  <div><button type="submit">Show</button></div>
</form>
${runs.length === 0
  ? html`<p class="empty">No runs${tenant || status ? ' match these filters' : ' yet'}.</p>`
  : html`<table><thead><tr><th class="n">run</th><th>tenant</th><th>file</th><th>status</th><th class="n">rows</th><th class="n">invites</th>
<th class="n">updates</th><th class="n">deletions</th><th class="n">errors</th><th>at</th></tr></thead><tbody>${rows}</tbody></table>`}
${pager(current, result.rows.length > PAGE_SIZE, link)}`;
    return sendPage(reply, page(request, reply, 'Runs', body));
  });
}
