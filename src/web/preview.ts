import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OUTPUT_TITLES } from '../output/names.js';
import { previewFile, UnusableFileError, type RunSummary } from '../pipeline.js';
import { recordAudit } from '../store/console-audit.js';
import { forgetExpiredPreviews, keepPreviewFile, previewFileChunks, previewFileName } from '../store/console-previews.js';
import type { ConsoleContext } from './context.js';
import { DOWNLOAD_ROUTE, sendCsvStream } from './downloads.js';
import { clip, html, type Html } from './html.js';
import { capList } from '../text/bounded.js';
import { csrfField, csrfToken, NOTES_SHOWN, page, sendPage, statusBadge, when } from './layout.js';
import { notFound } from './security.js';

type PreviewOutcome = { status: 200; summary: RunSummary } | { status: 400 | 422; content: Html };

/** Too large for the configured limit: 413, nothing kept. */
class TooLarge extends Error {}

/**
 * GET /preview (the form), POST /preview (csm): a customer's sample file for a tenant, streamed to a
 * temporary file, validated and diffed against the tenant's current state with the pipeline's previewFile
 * (a transaction rolled back: nothing stored). The upload is deleted at once; the three files stay
 * downloadable at /preview/TOKEN/KIND by the same user for previewTtlMinutes, from PostgreSQL (any replica
 * serves them: src/store/console-previews.ts), then are deleted.
 */
export function registerPreview(app: FastifyInstance, ctx: ConsoleContext, tempRoot: string): void {
  const ttlMs = ctx.app.http.console.previewTtlMinutes * 60_000;
  const maxBytes = ctx.app.http.console.previewMaxBytes;
  // Previews' files are member data: gone once their time is up, whichever replica swept them.
  const sweep = () => forgetExpiredPreviews(ctx.db.pool).catch((error: unknown) => ctx.logger?.warn({ err: (error as Error).message }, 'expired previews not removed'));
  const sweeper = setInterval(() => void sweep(), 60_000);
  sweeper.unref();
  app.addHook('onClose', async () => {
    clearInterval(sweeper);
  });

  app.get('/preview', { config: { role: 'csm' } }, async (request, reply) => sendPage(reply, previewPage(ctx, request, reply)));

  app.post('/preview', { config: { role: 'csm' } }, async (request, reply) => {
    const tooLarge = async () => {
      await recordAudit(ctx.db.pool, { actor: request.user!.name, action: 'preview', detail: 'refused (413)' });
      return sendPage(reply, previewPage(ctx, request, reply, html`<p class="notice error" role="alert">The file is larger than the ${formatBytes(maxBytes)} a preview accepts (http.console.previewMaxBytes).</p>`), 413);
    };
    if (Number(request.headers['content-length'] ?? 0) > maxBytes + 64 * 1024) return tooLarge();
    const dir = await mkdtemp(path.join(tempRoot, 'hris-console-preview-'));
    let outcome: PreviewOutcome;
    try {
      outcome = await runPreview(ctx, request, reply, dir);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      if (error instanceof TooLarge || (error as { statusCode?: number }).statusCode === 413) return tooLarge();
      throw error;
    }
    // Removed before the answer goes out: a client that got its answer finds nothing left on disk.
    if (outcome.status !== 200) {
      await rm(dir, { recursive: true, force: true });
      // A refused preview is a preview too (its page may quote the file): audited, without its text.
      await recordAudit(ctx.db.pool, { actor: request.user!.name, action: 'preview', detail: `refused (${outcome.status})` });
      return sendPage(reply, outcome.content, outcome.status);
    }
    const token = randomBytes(18).toString('base64url');
    const expiresAt = new Date(Date.now() + ttlMs);
    const summary = outcome.summary;
    try {
      // Kept in the database, so that any replica serves them; nothing stays on this one's disk.
      for (const [kind, file] of Object.entries(summary.files)) {
        await keepPreviewFile(ctx.db, { token, kind, user: request.user!.name }, previewFileLabel(path.basename(file)), expiresAt, file);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await sweep();
    await recordAudit(ctx.db.pool, { actor: request.user!.name, action: 'preview', detail: `tenant ${summary.tenant}: ${summary.status}, ${summary.rows} rows` });
    return sendPage(reply, page(request, reply, `Preview for ${ctx.tenants.get(summary.tenant)?.name ?? summary.tenant}`, previewResult(summary, token, expiresAt)));
  });

  app.get<{ Params: { token: string; kind: string } }>('/preview/:token/:kind', { ...DOWNLOAD_ROUTE, config: { role: 'csm' } }, async (request, reply) => {
    const kind = (['invites', 'updates', 'deletions', 'errors'] as const).find((k) => k === request.params.kind);
    const key = { token: request.params.token, kind: kind ?? '', user: request.user!.name };
    const name = kind ? await previewFileName(ctx.db.pool, key) : null;
    if (!name) return notFound(request, reply, 'This preview file is gone (previews are kept for a limited time) or was never here.');
    await recordAudit(ctx.db.pool, { actor: request.user!.name, action: 'preview-download', detail: key.kind });
    return sendCsvStream(reply, Readable.from(previewFileChunks(ctx.db.pool, key)), name);
  });
}

/** Receives the upload into DIR and previews it; a non-200 outcome is a page to show. */
async function runPreview(ctx: ConsoleContext, request: FastifyRequest, reply: FastifyReply, dir: string): Promise<PreviewOutcome> {
  const upload = await receiveUpload(request, dir);
  if (!upload.tenantId || !ctx.tenants.has(upload.tenantId) || !upload.file) {
    return { status: 400, content: previewPage(ctx, request, reply, html`<p class="notice error" role="alert">Choose a configured tenant and a CSV file.</p>`) };
  }
  const tenant = ctx.tenants.get(upload.tenantId)!;
  const input = upload.file;
  try {
    const summary = await previewFile({ db: ctx.db, logger: ctx.logger }, tenant, { name: input.name, open: () => createReadStream(input.path) }, { outDir: path.join(dir, 'files') });
    return { status: 200, summary };
  } catch (error) {
    if (!(error instanceof UnusableFileError)) throw error;
    return { status: 422, content: previewPage(ctx, request, reply, html`<p class="notice error" role="alert">The file cannot be used: ${clip(error.message, 500)}</p>`) };
  } finally {
    await rm(input.path, { force: true });
  }
}

/** Reads the multipart form: the tenant field and one file, streamed to DIR (413 past the limit). */
async function receiveUpload(request: FastifyRequest, dir: string): Promise<{ tenantId?: string; file?: { name: string; path: string } }> {
  const result: { tenantId?: string; file?: { name: string; path: string } } = {};
  for await (const part of request.parts()) {
    if (part.type === 'field') {
      if (part.fieldname === 'tenant' && typeof part.value === 'string') result.tenantId = part.value;
      continue;
    }
    if (result.file || !part.filename) {
      part.file.resume();
      continue;
    }
    // The customer's name (its date names the output files); the path is ours.
    const name = path.basename(part.filename.replace(/\\/g, '/')).slice(0, 200) || 'sample.csv';
    const target = path.join(dir, 'upload.csv');
    await pipeline(part.file, createWriteStream(target));
    if (part.file.truncated) throw new TooLarge();
    result.file = { name, path: target };
  }
  return result;
}

/**
 * A preview's file name: the platform file's name marked as a preview, so that no preview (a held mass
 * deletion's included, which /runs gives only to its operator) passes for a file to upload.
 */
export function previewFileLabel(name: string): string {
  return `${name.replace(/\.csv$/, '')} - PREVIEW, not for upload.csv`;
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 ** 2 ? `${Math.round(bytes / 1024 ** 2)} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

function previewPage(ctx: ConsoleContext, request: FastifyRequest, reply: FastifyReply, notice?: Html): Html {
  const tenants = [...ctx.tenants.values()];
  // Multipart is read as a stream, so the CSRF token travels in the action URL.
  return page(
    request,
    reply,
    'Preview a sample file',
    html`${notice}<p>Validate a customer's sample CSV and see its diff against the tenant's current state. Nothing is stored;
the three files stay downloadable for ${ctx.app.http.console.previewTtlMinutes} minutes.</p>
${tenants.length === 0 ? html`<p class="empty">No tenants are configured.</p>` : html`<form class="panel" method="post" enctype="multipart/form-data" action="/preview?_csrf=${csrfToken(reply)}">
${csrfField(reply)}
<label for="tenant">Tenant</label><select id="tenant" name="tenant" required>${tenants.map((t) => html`<option value="${t.id}">${t.name}</option>`)}</select>
<label for="file">CSV file (at most ${formatBytes(ctx.app.http.console.previewMaxBytes)})</label><input id="file" name="file" type="file" accept=".csv,text/csv" required>
<p><button type="submit">Preview</button></p></form>`}`,
  );
}

export function previewResult(summary: RunSummary, token: string, expiresAt: Date): Html {
  const c = summary.counts;
  const files = Object.keys(summary.files) as (keyof RunSummary['files'])[];
  return html`<dl class="facts"><dt>File</dt><dd>${clip(summary.file, 200)}</dd><dt>Outcome</dt><dd>${statusBadge(summary.status)} (as ingest would decide; nothing stored)</dd>
<dt>Rows</dt><dd>${summary.rows.toLocaleString('en-US')}</dd></dl>
<h2>Counts</h2><table class="counts"><thead><tr><th class="n">invites</th><th class="n">updates</th><th class="n">deactivations</th><th class="n">reactivations</th><th class="n">deletions</th><th class="n">unchanged</th><th class="n">invalid rows</th></tr></thead>
<tbody><tr id="preview-counts"><td class="n">${c.invites}</td><td class="n">${c.updates}</td><td class="n">${c.deactivations}</td><td class="n">${c.reactivations}</td><td class="n">${c.deletions}</td><td class="n">${c.unchanged}</td><td class="n">${summary.errorCount}</td></tr></tbody></table>
${summary.reasons.length > 0 ? html`<h2>Reasons</h2><ul>${capList(summary.reasons, NOTES_SHOWN).map((r) => html`<li>${clip(r, 500)}</li>`)}</ul>` : null}
${summary.warnings.length > 0 ? html`<h2>Warnings</h2><ul>${capList(summary.warnings, NOTES_SHOWN).map((w) => html`<li>${clip(w, 500)}</li>`)}</ul>` : null}
${files.length > 0 ? html`<h2>Files</h2><p class="muted">Available until ${when(expiresAt)}.</p><ul>${files.map((kind) => html`<li><a href="/preview/${token}/${kind}" download>${OUTPUT_TITLES[kind]}</a></li>`)}</ul>` : null}
${summary.errors.length > 0 ? html`<h2>Validation errors (first ${summary.errors.length} of ${summary.errorCount})</h2><table><thead><tr><th class="n">line</th><th>column</th><th>value</th><th>message</th></tr></thead><tbody>
${summary.errors.map((e) => html`<tr><td class="n">${e.line}</td><td>${clip(e.column)}</td><td class="value">${clip(e.value)}</td><td>${clip(e.message, 300)}</td></tr>`)}</tbody></table>` : null}
<p><a href="/preview">Preview another file</a></p>`;
}
