import type { FastifyInstance } from 'fastify';
import { listAudit } from '../store/console-audit.js';
import type { ConsoleContext } from './context.js';
import { clip, html } from './html.js';
import { page, pageNumber, pager, sendPage, when } from './layout.js';

const PAGE_SIZE = 100;

/** GET /audit?page= (operator): who did what in the console, newest first. */
export function registerAuditPage(app: FastifyInstance, ctx: ConsoleContext): void {
  app.get<{ Querystring: { page?: string } }>('/audit', { config: { role: 'operator' } }, async (request, reply) => {
    const current = pageNumber(request.query.page);
    const { entries, more } = await listAudit(ctx.db.pool, { offset: (current - 1) * PAGE_SIZE, limit: PAGE_SIZE });
    const body = entries.length === 0
      ? html`<p class="empty">Nothing recorded yet.</p>`
      : html`<table><thead><tr><th>at</th><th>who</th><th>what</th><th>detail</th></tr></thead><tbody>
${entries.map((e) => html`<tr><td>${when(e.at)}</td><td>${e.actor ?? html`<span class="muted">unknown</span>`}</td><td>${e.action}</td><td>${clip(e.detail, 300)}</td></tr>`)}
</tbody></table>${pager(current, more, (n) => `/audit?page=${n}`)}`;
    return sendPage(reply, page(request, reply, 'Audit log', body));
  });
}
