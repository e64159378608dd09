import type { FastifyInstance } from 'fastify';
import type { Queryable } from '../store/db.js';
import { tenantWatchStatuses, type TenantWatchStatus } from '../store/late-watch.js';
import { unappliedRuns, type RunIds } from '../store/run-applied.js';
import type { ConsoleContext } from './context.js';
import { clip, FILE_NAME_CELL_MAX, html, query, type Html } from './html.js';
import { page, runLinks, sendPage, statusBadge, when } from './layout.js';
import { runStatus } from './run-state.js';

interface TenantFacts {
  id: string;
  name: string;
  lastRun: { id: number; file: string; status: string; supersededBy: number | null; at: Date } | null;
  onPlatform: number;
  held: number;
  /** Accepted runs not marked applied (the oldest 20, and how many). */
  unapplied: RunIds;
  /** Unapplied runs with a newer run after them (the oldest 5, and how many): their files would be lost. */
  overtaken: { runs: RunIds; newerRunId: number } | null;
}

async function tenantFacts(db: Queryable, tenant: { id: string; name: string }): Promise<TenantFacts> {
  const last = await db.query<{ id: number; file_name: string; status: string; superseded_by: number | null; created_at: Date }>(
    `select id::int as id, file_name, status, superseded_by::int as superseded_by, created_at from runs where tenant_id = $1 and source <> 'baseline' order by id desc limit 1`,
    [tenant.id],
  );
  const counts = await db.query<{ on_platform: number; held: number; newest: number | null }>(
    `select (select count(*)::int from members where tenant_id = $1 and on_platform) as on_platform,
            (select count(*)::int from runs where tenant_id = $1 and status = 'held' and superseded_by is null) as held,
            (select max(id)::int from runs where tenant_id = $1 and status in ('accepted', 'held') and superseded_by is null and source <> 'baseline') as newest`,
    [tenant.id],
  );
  const { on_platform, held, newest } = counts.rows[0]!;
  const unapplied = await unappliedRuns(db, tenant.id, { limit: 20 });
  const overtaken = newest === null || unapplied.total === 0 ? null : { runs: await unappliedRuns(db, tenant.id, { before: newest, limit: 5 }), newerRunId: newest };
  const row = last.rows[0];
  return {
    ...tenant,
    lastRun: row ? { id: row.id, file: row.file_name, status: row.status, supersededBy: row.superseded_by, at: row.created_at } : null,
    onPlatform: on_platform,
    held,
    unapplied,
    overtaken: overtaken && overtaken.runs.total > 0 ? overtaken : null,
  };
}

async function dropState(db: Queryable): Promise<Html> {
  const row = (
    await db.query<{ consecutive_failures: number; last_success_at: Date | null; first_failure_at: Date | null }>(
      'select consecutive_failures, last_success_at, first_failure_at from drop_health where id = 1',
    )
  ).rows[0];
  if (!row || (row.consecutive_failures === 0 && !row.last_success_at)) return html`<span class="muted">not polled yet</span>`;
  if (row.consecutive_failures > 0) return html`<strong>unreachable</strong> since ${when(row.first_failure_at)} (${row.consecutive_failures} failed ticks)`;
  return html`reachable (last tick ${when(row.last_success_at)})`;
}

/** The late-file watch's view of a tenant (issue 13): not watched, expected by a time, or late by how long. */
function nextFile(status: TenantWatchStatus | undefined): Html {
  if (!status?.state) return html`<span class="muted">not watched</span>`;
  const { state } = status;
  if (!state.late) return html`due ${when(state.nextExpectedAt)} <span class="muted">(${status.cadence})</span>`;
  const hours = Math.floor(state.lateByMs / 3_600_000);
  const late = hours >= 48 ? `${Math.floor(hours / 24)} days` : `${hours} hours`;
  return html`<strong class="late">late by ${late}</strong> (due ${when(state.nextExpectedAt)}, ${status.cadence})`;
}

/** GET /tenants: one row per configured tenant; warnings for runs overtaken before being applied. */
export function registerTenantsPage(app: FastifyInstance, ctx: ConsoleContext): void {
  app.get('/tenants', async (request, reply) => {
    const facts: TenantFacts[] = [];
    for (const tenant of ctx.tenants.values()) facts.push(await tenantFacts(ctx.db.pool, tenant));
    const next = ctx.nextTick?.() ?? null;
    const watch = new Map((await tenantWatchStatuses(ctx.db.pool, ctx.tenants.values(), ctx.app.schedule.timezone, new Date())).map((w) => [w.id, w]));
    const warnings = facts.flatMap((t) => (t.overtaken ? [overtakenWarning(t.name, t.overtaken)] : []));
    const rows = facts.map(
      (t) => html`<tr>
  <td><a href="/runs${query({ tenant: t.id })}">${t.name}</a><br><span class="muted">${t.id}</span></td>
  <td>${t.lastRun ? html`<a href="/runs/${t.lastRun.id}">${clip(t.lastRun.file, FILE_NAME_CELL_MAX)}</a>` : html`<span class="empty">no file yet</span>`}</td>
  <td>${t.lastRun ? runStatus({ source: 'file', status: t.lastRun.status, superseded_by: t.lastRun.supersededBy }) : null}</td>
  <td>${t.lastRun ? when(t.lastRun.at) : '—'}</td>
  <td class="n">${t.onPlatform.toLocaleString('en-US')}</td>
  <td class="n">${t.held > 0 ? html`<a href="/runs${query({ tenant: t.id, status: 'held' })}">${t.held}</a>` : '0'}</td>
  <td class="n">${t.unapplied.total > 0 ? runLinks(t.unapplied) : '0'}</td>
  <td>${nextFile(watch.get(t.id))}</td>
</tr>`,
    );
    const body = html`${warnings}
<dl class="facts"><dt>SFTP drop</dt><dd>${await dropState(ctx.db.pool)}</dd>
<dt>Next tick</dt><dd>${next ? when(next) : html`<span class="muted">not scheduled in this process (console only)</span>`}</dd></dl>
<h2>Tenants</h2>
${facts.length === 0
  ? html`<p class="empty">No tenants are configured (config/tenants/*.yaml).</p>`
  : html`<table><thead><tr><th>tenant</th><th>last file</th><th>status</th><th>at</th><th class="n">members on the platform</th>
<th class="n">waiting for a decision</th><th class="n">runs not marked applied</th><th>next file (expect:)</th></tr></thead><tbody>${rows}</tbody></table>`}`;
    return sendPage(reply, page(request, reply, 'Tenants', body));
  });
}

/** Accepted runs not marked applied while a newer run exists: uploading only the newer files loses theirs. */
function overtakenWarning(tenant: string, overtaken: { runs: RunIds; newerRunId: number }): Html {
  const { runs, newerRunId } = overtaken;
  const one = runs.total === 1;
  const [was, is, its, it] = one ? ['was', 'is', 'its', 'it'] : ['were', 'are', 'their', 'them'];
  return html`<p class="notice warn" role="alert">${tenant}: ${one ? 'run' : 'runs'} ${runLinks(runs)} ${was} accepted but ${is} not marked applied,
    and a newer run (<a href="/runs/${newerRunId}">${newerRunId}</a>) exists. Upload ${its} files to the platform first, in order,
    or ${its} deletions and updates are lost; then mark ${it} applied.</p>`;
}
