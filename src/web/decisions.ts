import type { FastifyInstance } from 'fastify';
import { approveRun, rejectRun, RunCommittedError, RunDecisionError } from '../pipeline.js';
import { recordAudit } from '../store/console-audit.js';
import { markApplied, needsApplying } from '../store/run-applied.js';
import type { ConsoleContext } from './context.js';
import { clip, html } from './html.js';
import { loadConsoleRun, sendRunPage } from './run-page.js';
import { notFound } from './security.js';

type DecisionRequest = { Params: { id: string }; Body: { confirm?: string; reason?: string }; Querystring: Record<string, string> };

/** POST /runs/:id/approve|reject (operator, after the confirmation step) and /runs/:id/applied (csm). */
export function registerDecisions(app: FastifyInstance, ctx: ConsoleContext): void {
  for (const verb of ['approve', 'reject'] as const) {
    app.post<DecisionRequest>(`/runs/:id/${verb}`, { config: { role: 'operator' } }, async (request, reply) => {
      const run = await loadConsoleRun(ctx, request.params.id);
      if (!run) return notFound(request, reply, 'No such run here.');
      // Without the confirmation step's field: show the confirmation step.
      if (request.body?.confirm !== 'yes') return reply.redirect(`/runs/${run.id}?decide=${verb}`, 303);
      const reason = typeof request.body.reason === 'string' ? clip(request.body.reason.trim(), 500) : '';
      if (!reason) {
        // The confirmation step asks for a reason (kept in the audit log and, for a rejection, with the
        // run); the form's `required` is the browser's check only. The step again, nothing changed.
        request.query = { decide: verb };
        return sendRunPage(ctx, request, reply, run, html`<p class="notice error" role="alert">Not done: give a reason to ${verb} run ${run.id}.</p>`, 400);
      }
      const by = request.user!.name;
      const audit = () => recordAudit(ctx.db.pool, { actor: by, action: verb, detail: `run ${run.id} (${run.tenant_id}): ${reason}` });
      try {
        // The same functions, checks and effects as `hris-ingest runs approve|reject`.
        if (verb === 'approve') await approveRun({ db: ctx.db, logger: ctx.logger }, ctx.tenants, run.id, by, ctx.outDir ? { outDir: ctx.outDir } : {});
        else await rejectRun({ db: ctx.db, logger: ctx.logger }, run.id, by, reason);
      } catch (error) {
        // Approved all the same (its files failed after the commit): the decision is audited before the error.
        if (error instanceof RunCommittedError) await audit();
        if (!(error instanceof RunDecisionError)) throw error;
        request.query = {};
        return sendRunPage(ctx, request, reply, run, html`<p class="notice error" role="alert">Not done: ${error.message}</p>`, 409);
      }
      await audit();
      return reply.redirect(`/runs/${run.id}?done=${verb === 'approve' ? 'approved' : 'rejected'}`, 303);
    });
  }

  app.post<DecisionRequest>('/runs/:id/applied', { config: { role: 'csm' } }, async (request, reply) => {
    const run = await loadConsoleRun(ctx, request.params.id);
    if (!run) return notFound(request, reply, 'No such run here.');
    if (!(await needsApplying(ctx.db.pool, run.id))) {
      request.query = {};
      return sendRunPage(ctx, request, reply, run, html`<p class="notice error" role="alert">Only an accepted run with changes can be marked applied.</p>`, 409);
    }
    const mark = await markApplied(ctx.db.pool, run.id, request.user!.name);
    await recordAudit(ctx.db.pool, { actor: request.user!.name, action: 'applied', detail: `run ${run.id} (${run.tenant_id}), marked by ${mark.by}` });
    return reply.redirect(`/runs/${run.id}?done=applied`, 303);
  });
}
