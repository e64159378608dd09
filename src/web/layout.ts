import type { FastifyReply, FastifyRequest } from 'fastify';
import { allows } from './context.js';
import type { RunIds } from '../store/run-applied.js';
import { andMore } from '../text/bounded.js';
import { html, type Html } from './html.js';

/** Most reasons and warnings a page lists; the rest are counted ("... and N more"). */
export const NOTES_SHOWN = 50;

const tokens = new WeakMap<FastifyReply, string>();

/**
 * The CSRF token of this request's forms, made once per request: without a CSRF cookie, each
 * generateCsrf() makes a new secret and sets the cookie again, the last one wins, and every form on the
 * page but the last carried a token for a thrown-away secret (403 after a browser restart kept the session).
 */
export function csrfToken(reply: FastifyReply): string {
  let token = tokens.get(reply);
  if (token === undefined) tokens.set(reply, (token = reply.generateCsrf()));
  return token;
}

/** The CSRF token field for this request's forms. */
export function csrfField(reply: FastifyReply): Html {
  return html`<input type="hidden" name="_csrf" value="${csrfToken(reply)}">`;
}

/** A whole page: header with navigation and sign-out, then BODY. */
export function page(request: FastifyRequest, reply: FastifyReply, title: string, body: Html): Html {
  const user = request.user;
  const nav = user
    ? html`<nav aria-label="main"><a href="/tenants">Tenants</a><a href="/runs">Runs</a>${
        allows(user.role, 'csm') ? html`<a href="/preview">Preview</a>` : null
      }${allows(user.role, 'operator') ? html`<a href="/audit">Audit</a>` : null}</nav>
      <span class="who">${user.name} (${user.role})</span>
      ${request.user?.viaProxy ? null : html`<form method="post" action="/logout">${csrfField(reply)}<button class="secondary" type="submit">Sign out</button></form>`}`
    : null;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · hris-ingest</title><link rel="stylesheet" href="/static/console.css"></head>
<body><header class="top"><span class="brand">hris-ingest console</span>${nav}</header>
<main id="main"><h1>${title}</h1>
${body}
</main></body></html>
`;
}

/** Sends a page as HTML, never cached (it may carry member data). */
export function sendPage(reply: FastifyReply, content: Html, status = 200): FastifyReply {
  return reply.code(status).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(content.text);
}

/** Previous / next links for a paged list; PARAMS build the link of a page number. */
export function pager(pageNumber: number, hasMore: boolean, link: (page: number) => string, label = 'page'): Html {
  if (pageNumber <= 1 && !hasMore) return html``;
  return html`<nav class="pager" aria-label="${label}">${pageNumber > 1 ? html`<a href="${link(pageNumber - 1)}" rel="prev">← previous</a>` : null}
    <span>${label} ${pageNumber}</span>${hasMore ? html`<a href="${link(pageNumber + 1)}" rel="next">next →</a>` : null}</nav>`;
}

/** A positive page number from a query value (1 when absent or not a number). */
export function pageNumber(value: unknown): number {
  const n = typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : 1;
  return n >= 1 ? n : 1;
}

export function statusBadge(status: string): Html {
  return html`<span class="status ${status}">${status}</span>`;
}

export function when(date: Date | null | undefined): string {
  return date ? `${new Date(date).toISOString().slice(0, 16).replace('T', ' ')} UTC` : '—';
}

/** Links to the runs (PREFIX before each id), then "... and N more" when there are more than listed. */
export function runLinks(runs: RunIds, prefix = ''): Html {
  const rest = runs.total - runs.ids.length;
  return html`${runs.ids.map((id, i) => html`${i > 0 ? ', ' : ''}<a href="/runs/${id}">${prefix}${id}</a>`)}${rest > 0 ? `, ${andMore(rest)}` : ''}`;
}
