import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { maskError, maskValue } from '../text/mask.js';
import { OUTPUT_TITLES, type OutputKind } from '../output/names.js';
import type { Role } from '../store/console-users.js';
import { appliedMark, needsApplying, unappliedRuns } from '../store/run-applied.js';
import { fullCounts, getRun, lastAcceptedRun, type RunRow } from '../store/runs.js';
import { capList } from '../text/bounded.js';
import { allows, type ConsoleContext } from './context.js';
import { CELL_MAX, clip, html, query, type Html } from './html.js';
import { csrfField, NOTES_SHOWN, page, pageNumber, pager, runLinks, sendPage, when } from './layout.js';
import { errorPage, updatePage, type UpdateRow } from './run-details.js';
import { encryptionFacts, offeredFiles, runStatus, supersededPanel } from './run-state.js';
import { notFound } from './security.js';

export interface LoadedRun extends RunRow {
  decided_by: string | null;
  decided_at: Date | null;
  purged_at: Date | null;
}

/** The run of a URL id, when it exists and belongs to a tenant configured here; else null (404). */
export async function loadConsoleRun(ctx: ConsoleContext, idText: string): Promise<LoadedRun | null> {
  if (!/^\d{1,15}$/.test(idText)) return null;
  const run = await getRun(ctx.db.pool, Number(idText));
  if (!run || !ctx.tenants.has(run.tenant_id)) return null;
  const extra = await ctx.db.pool.query<{ decided_by: string | null; decided_at: Date | null; purged_at: Date | null }>(
    'select decided_by, decided_at, purged_at from runs where id = $1',
    [run.id],
  );
  return { ...run, ...extra.rows[0]! };
}

/** Why a held run cannot be approved (its base moved), or null when it can. */
export async function baseMoved(ctx: ConsoleContext, run: RunRow): Promise<string | null> {
  const last = await lastAcceptedRun(ctx.db.pool, run.tenant_id);
  if ((last?.id ?? null) === run.base_run_id) return null;
  return `It was compared with ${run.base_run_id ? `run ${run.base_run_id}` : 'an empty state (first file)'}, but the tenant's last accepted run is now ` +
    `${last ? `run ${last.id}` : 'none'}. Approving it would apply changes computed against an old state. Reject it, and have the file ingested again.`;
}

const COUNT_NAMES = ['invites', 'updates', 'deactivations', 'reactivations', 'deletions', 'unchanged'] as const;
/** Most changed fields shown per update (a tenant may declare many custom segments); the rest are counted. */
const FIELDS_SHOWN = 30;
const KINDS = ['invites', 'updates', 'deletions', 'errors'] as const;

interface RunPageQuery {
  errors_page?: string;
  updates_page?: string;
  decide?: string;
  done?: string;
}

/** GET /runs/:id */
export function registerRunPage(app: FastifyInstance, ctx: ConsoleContext): void {
  app.get<{ Params: { id: string }; Querystring: RunPageQuery }>('/runs/:id', async (request, reply) => {
    const run = await loadConsoleRun(ctx, request.params.id);
    if (!run) return notFound(request, reply, 'No such run here.');
    return sendRunPage(ctx, request, reply, run);
  });
}

/** The run page; NOTICE (e.g. a refused decision) is shown on top with STATUS. */
export async function sendRunPage(
  ctx: ConsoleContext,
  request: FastifyRequest<{ Querystring: RunPageQuery }>,
  reply: FastifyReply,
  run: LoadedRun,
  notice?: Html,
  status = 200,
): Promise<FastifyReply> {
  const user = request.user!;
  const q = request.query;
  const counts = fullCounts(run.counts);
  const done = q.done === 'approved' || q.done === 'rejected' || q.done === 'applied' ? html`<p class="notice ok" role="status">Run ${run.id} ${q.done}.</p>` : null;
  const facts = html`<dl class="facts">
<dt>Tenant</dt><dd><a href="/runs${query({ tenant: run.tenant_id })}">${ctx.tenants.get(run.tenant_id)?.name ?? run.tenant_id}</a></dd>
<dt>File</dt><dd>${clip(run.file_name, 200)}</dd>
<dt>Status</dt><dd>${runStatus(run)}${run.decided_by ? html` <span class="muted">decided by ${run.decided_by}, ${when(run.decided_at)}</span>` : null}</dd>
<dt>Received</dt><dd>${when(run.created_at)}</dd>
${encryptionFacts(run)}
<dt>Rows</dt><dd>${run.rows.toLocaleString('en-US')} (members matched by ${run.key_field ?? '—'})</dd>
<dt>Compared with</dt><dd>${run.base_run_id ? html`<a href="/runs/${run.base_run_id}">run ${run.base_run_id}</a>` : 'an empty state (first file)'}</dd>
${run.purged_at ? html`<dt>Retention</dt><dd>its changes and errors were removed ${when(run.purged_at)}</dd>` : null}
</dl>`;
  const countTable = html`<h2>Counts</h2><table class="counts"><thead><tr>${COUNT_NAMES.map((n) => html`<th class="n">${n}</th>`)}<th class="n">invalid rows</th></tr></thead>
<tbody><tr>${COUNT_NAMES.map((n) => html`<td class="n">${counts[n].toLocaleString('en-US')}</td>`)}<td class="n">${run.error_count.toLocaleString('en-US')}</td></tr></tbody></table>`;
  // Reasons and warnings quote header texts, which hold member data when a file lacks its header row (a
  // rejected file's reason quotes its first row): a viewer sees them as the Slack alert does, masked.
  const showValues = allows(user.role, 'csm');
  const reasonText = (r: string) => (showValues ? r : maskError({ line: null, value: null, message: r }));
  const warningText = (w: string) => (showValues ? w : maskValue(w.replace(/"[^"]*"/g, '"…"'), null));
  const reasons = run.reasons.length > 0 ? html`<h2>${run.status === 'held' ? 'Why it was held' : 'Reasons'}</h2><ul>${capList(run.reasons, NOTES_SHOWN).map((r) => html`<li>${clip(reasonText(r), 500)}</li>`)}</ul>` : null;
  const warnings = run.warnings.length > 0 ? html`<h2>Warnings</h2><ul>${capList(run.warnings, NOTES_SHOWN).map((w) => html`<li>${clip(warningText(w), 500)}</li>`)}</ul>` : null;
  const body = html`${notice}${done}${facts}${await appliedSection(ctx, request, reply, run)}${await decisionSection(ctx, request, reply, run)}
${countTable}${reasons}${warnings}${downloads(run, user.role)}
${await errorsSection(ctx, request, run)}${await updatesSection(ctx, request, run)}`;
  return sendPage(reply, page(request, reply, `Run ${run.id}`, body), status);
}

function downloads(run: LoadedRun, role: Role): Html | null {
  if (run.purged_at || run.status === 'duplicate') return null;
  if (!allows(role, 'csm')) return html`<h2>Files</h2><p class="muted">Downloading the files needs the csm role.</p>`;
  const offered = offeredFiles(run, role);
  const held = run.status === 'held'
    ? html`<p class="notice warn">${
        run.superseded_by !== null
          ? 'This run was superseded: its changes were computed against a state that is gone, and no file for the platform is offered.'
          : offered.review
            ? 'These files are for reviewing the held run, not for the platform: they are named "HELD", and the files for the platform come with the approval.'
            : 'The files for the platform come with the approval; until then only the operator deciding the run can download them, for review.'
      }</p>`
    : null;
  if (offered.kinds.length === 0 && !held) return null;
  const title = (kind: OutputKind) => (offered.review && kind !== 'errors' ? `${OUTPUT_TITLES[kind]} (held, for review)` : OUTPUT_TITLES[kind]);
  const links = offered.kinds.length > 0 ? html`<ul>${offered.kinds.map((kind) => html`<li><a href="/runs/${run.id}/files/${kind}" download>${title(kind)}</a></li>`)}</ul>` : null;
  return html`<h2>Files</h2>${held}${links}`;
}

async function decisionSection(ctx: ConsoleContext, request: FastifyRequest<{ Querystring: RunPageQuery }>, reply: FastifyReply, run: LoadedRun): Promise<Html | null> {
  if (run.status !== 'held') return null;
  if (run.superseded_by !== null) return supersededPanel(run);
  if (!allows(request.user!.role, 'operator')) return html`<p class="notice warn">This run waits for an operator's decision.</p>`;
  const moved = await baseMoved(ctx, run);
  const decide = request.query.decide;
  if (decide === 'approve' && !moved) {
    return html`<form class="panel" method="post" action="/runs/${run.id}/approve">${csrfField(reply)}<input type="hidden" name="confirm" value="yes">
<p><strong>Approve run ${run.id}?</strong> Its changes become the tenant's state and its files go to Slack.</p>
<label for="reason">Reason (kept in the audit log)</label><textarea id="reason" name="reason" required maxlength="500"></textarea>
<p><button type="submit">Approve run ${run.id}</button> <a href="/runs/${run.id}">Cancel</a></p></form>`;
  }
  if (decide === 'reject') {
    return html`<form class="panel" method="post" action="/runs/${run.id}/reject">${csrfField(reply)}<input type="hidden" name="confirm" value="yes">
<p><strong>Reject run ${run.id}?</strong> Nothing is applied; the tenant's state stays as it is.</p>
<label for="reason">Reason (kept with the run)</label><textarea id="reason" name="reason" required maxlength="500"></textarea>
<p><button class="danger" type="submit">Reject run ${run.id}</button> <a href="/runs/${run.id}">Cancel</a></p></form>`;
  }
  return html`<div class="panel notice warn"><p><strong>This run is held and waits for a decision.</strong></p>
${moved ? html`<p role="alert">It cannot be approved. ${moved}</p>` : html`<a href="/runs/${run.id}?decide=approve">Approve…</a> · `}<a href="/runs/${run.id}?decide=reject">Reject…</a></div>`;
}

async function appliedSection(ctx: ConsoleContext, request: FastifyRequest, reply: FastifyReply, run: LoadedRun): Promise<Html | null> {
  if (!(await needsApplying(ctx.db.pool, run.id))) return null;
  const mark = await appliedMark(ctx.db.pool, run.id);
  const earlier = await unappliedRuns(ctx.db.pool, run.tenant_id, { before: run.id, limit: 10 });
  const warning = earlier.total > 0
    ? html`<p class="notice warn" role="alert">Earlier accepted runs are not marked applied: ${runLinks(earlier, 'run ')}. Upload their files to the platform first, in order.</p>`
    : null;
  if (mark) return html`${warning}<p class="notice ok">Applied to the platform by ${mark.by}, ${when(mark.at)}.</p>`;
  const form = allows(request.user!.role, 'csm')
    ? html`<form class="inline" method="post" action="/runs/${run.id}/applied">${csrfField(reply)}<button type="submit">Mark applied</button></form>`
    : null;
  return html`${warning}<div class="notice warn"><p>The files of this run are not marked applied to the platform yet.</p>${form}</div>`;
}

async function errorsSection(ctx: ConsoleContext, request: FastifyRequest<{ Querystring: RunPageQuery }>, run: LoadedRun): Promise<Html | null> {
  if (run.error_count === 0) return null;
  const current = pageNumber(request.query.errors_page);
  const { rows, more } = await errorPage(ctx.db.pool, run.id, current);
  const showValues = allows(request.user!.role, 'csm');
  const link = (n: number) => `/runs/${run.id}${query({ errors_page: n, updates_page: request.query.updates_page })}#errors`;
  return html`<h2 id="errors">Validation errors (${run.error_count.toLocaleString('en-US')})</h2>
<table><thead><tr><th class="n">line</th><th>column</th>${showValues ? html`<th>value</th>` : null}<th>message</th></tr></thead><tbody>
${rows.map((e) => html`<tr><td class="n">${e.line ?? '—'}</td><td>${clip(e.column_name ?? '')}</td>${showValues ? html`<td class="value">${clip(e.value ?? '')}</td>` : null}
<td>${clip(showValues ? e.message : maskError(e), 300)}</td></tr>`)}
</tbody></table>${pager(current, more, link, 'errors page')}`;
}

/** The first FIELDS_SHOWN changed fields of ROW, then "... and N more fields" (capList: the viewer's list counts the same way). */
function changedCells(row: UpdateRow): Html[] {
  return capList(row.changed_fields, FIELDS_SHOWN, { noun: 'fields' }).map((field, i) => {
    if (i === FIELDS_SHOWN) return html`<div class="muted">${field}</div>`;
    const before = row.before ? (row.before[field] ?? '') : null;
    return html`<div><strong>${clip(field)}</strong>: <span class="value">${before === null ? html`<span class="muted">(not kept)</span>` : clip(before)}</span><span class="arrow">→</span><span class="value">${clip(row.after?.[field] ?? '')}</span></div>`;
  });
}

async function updatesSection(ctx: ConsoleContext, request: FastifyRequest<{ Querystring: RunPageQuery }>, run: LoadedRun): Promise<Html | null> {
  if (fullCounts(run.counts).updates === 0 || run.purged_at) return null;
  const current = pageNumber(request.query.updates_page);
  const { rows, more } = await updatePage(ctx.db.pool, run.id, run.tenant_id, current);
  const showValues = allows(request.user!.role, 'csm');
  const link = (n: number) => `/runs/${run.id}${query({ updates_page: n, errors_page: request.query.errors_page })}#updates`;
  return html`<h2 id="updates">Profile updates (${fullCounts(run.counts).updates.toLocaleString('en-US')})</h2>
<table><thead><tr><th class="n">line</th>${showValues ? html`<th>member</th>` : null}<th>change</th><th>${showValues ? 'changed fields: before → after' : 'changed fields'}</th></tr></thead><tbody>
${rows.map((u) => html`<tr><td class="n">${u.line ?? '—'}</td>${showValues ? html`<td class="value">${clip(u.member_key, 80)}</td>` : null}<td>${u.change_type ?? 'update'}</td>
<td>${showValues ? changedCells(u) : capList(u.changed_fields, FIELDS_SHOWN, { itemMax: CELL_MAX, noun: 'fields' }).join(', ')}</td></tr>`)}
</tbody></table>${pager(current, more, link, 'updates page')}`;
}
