import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { renderRunFilesWith } from '../output/render.js';
import type { OutputKind } from '../output/names.js';
import { recordAudit } from '../store/console-audit.js';
import type { ConsoleContext } from './context.js';
import { loadConsoleRun } from './run-page.js';
import { offeredFiles, reviewFileName } from './run-state.js';
import { forbidden, notFound } from './security.js';

const KINDS: readonly OutputKind[] = ['invites', 'updates', 'deletions', 'errors'];

/** Content-Disposition for a file name (ASCII fallback plus the UTF-8 name, RFC 6266). */
export function attachment(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** Streams FILE as a CSV download named NAME, then calls CLEANUP (once the response is done either way). */
export function sendCsv(reply: FastifyReply, file: string, name: string, cleanup: () => Promise<void>): FastifyReply {
  return sendCsvStream(reply, createReadStream(file), name, cleanup);
}

/** Streams STREAM as a CSV download named NAME, then calls CLEANUP (once the response is done either way). */
export function sendCsvStream(reply: FastifyReply, stream: Readable, name: string, cleanup: () => Promise<void> = async () => undefined): FastifyReply {
  let cleaned = false;
  const done = () => {
    if (!cleaned) {
      cleaned = true;
      void cleanup().catch(() => undefined);
    }
  };
  stream.once('close', done);
  reply.raw.once('close', done);
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', attachment(name))
    .header('cache-control', 'no-store')
    .send(stream);
}

/**
 * Route options of a member-file download: GET only. Fastify answers HEAD with every GET route unless told
 * not to, and a HEAD here rendered the member file and audited a download that never happened.
 */
export const DOWNLOAD_ROUTE = { exposeHeadRoute: false } as const;

/**
 * GET /runs/:id/files/invites|updates|deletions|errors (csm): the file the alert carries, under the same
 * name, rendered from the stored run into a temporary folder (streamed with a cursor) and streamed out.
 * What is offered to whom is offeredFiles' (a held run's files: its deciding operator's, named HELD).
 */
export function registerDownloads(app: FastifyInstance, ctx: ConsoleContext): void {
  app.get<{ Params: { id: string; kind: string } }>('/runs/:id/files/:kind', { ...DOWNLOAD_ROUTE, config: { role: 'csm' } }, async (request, reply) => {
    const kind = KINDS.find((k) => k === request.params.kind);
    const run = kind ? await loadConsoleRun(ctx, request.params.id) : null;
    if (!kind || !run || run.purged_at) return notFound(request, reply, 'No such file here.');
    const offered = offeredFiles(run, request.user!.role);
    if (!offered.kinds.includes(kind)) {
      // A held run's files carry out what was held: the deciding operator's to review, nobody else's.
      if (offeredFiles(run, 'operator').kinds.includes(kind)) {
        return forbidden(request, reply, 'A held run\'s files are for the operator deciding it; the files for the platform come with the approval.');
      }
      return notFound(request, reply, run.status === 'held' && run.superseded_by !== null ? 'This run was superseded: its files are not offered.' : 'This run has no such file.');
    }
    const dir = await mkdtemp(path.join(tmpdir(), 'hris-console-download-'));
    const cleanup = () => rm(dir, { recursive: true, force: true });
    let rendered;
    const client = await ctx.db.pool.connect();
    try {
      rendered = (await renderRunFilesWith(client, run.id, dir, { only: kind }))[kind];
    } catch (error) {
      await cleanup();
      throw error;
    } finally {
      client.release();
    }
    if (!rendered) {
      await cleanup();
      return notFound(request, reply, 'This run has no such file.');
    }
    await recordAudit(ctx.db.pool, { actor: request.user!.name, action: 'download', detail: `run ${run.id} (${run.tenant_id}) ${kind}` }).catch(async (error: unknown) => {
      await cleanup(); // the rendered member file does not outlive a failed answer
      throw error;
    });
    const name = path.basename(rendered.path);
    return sendCsv(reply, rendered.path, offered.review && kind !== 'errors' ? reviewFileName(run, name) : name, cleanup);
  });
}
