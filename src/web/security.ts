import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyHelmet from '@fastify/helmet';
import fastifyMultipart from '@fastify/multipart';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySession from '@fastify/session';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { recordAudit } from '../store/console-audit.js';
import { findUser } from '../store/console-users.js';
import { allows, type ConsoleContext, type SignedInUser } from './context.js';
import { html } from './html.js';
import { page, sendPage } from './layout.js';
import { LazySigner, PgSessionStore, sessionSecret } from './session-store.js';

export const SESSION_COOKIE = 'hris_session';
/** The CSRF secret's cookie (signed, HttpOnly, SameSite=Strict). */
export const CSRF_COOKIE = 'hris_csrf';

/** Secure cookies: as configured, else when the console's public URL is https. */
export function secureCookies(ctx: ConsoleContext): boolean {
  return ctx.app.http.console.secureCookie ?? ctx.app.http.dashboardUrl?.startsWith('https://') ?? false;
}

/** The proxy's addresses as Node reports a peer (IPv4-mapped IPv6 is the IPv4 address). */
function normaliseAddress(address: string | undefined): string {
  return (address ?? '').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
}

/** Helmet (strict CSP: no script at all), cookies, sessions in PostgreSQL, CSRF, forms, uploads, rate limits. */
export async function registerSecurity(app: FastifyInstance, ctx: ConsoleContext): Promise<void> {
  const settings = ctx.app.http.console;
  const secure = secureCookies(ctx);
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        ...(secure ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: secure ? { maxAge: 31536000 } : false,
  });
  const signer = new LazySigner(() => sessionSecret(ctx.db.pool, settings.sessionSecret));
  await app.register(fastifyCookie, { secret: signer });
  // Before the session plugin's own hook: the secret is read from the database on first use.
  app.addHook('onRequest', async (request) => {
    const url = request.routeOptions.url;
    if (url !== '/healthz' && url !== '/metrics' && url !== '/static/console.css') await signer.ensure();
  });
  const maxAgeMs = settings.sessionHours * 3600_000;
  await app.register(fastifySession, {
    secret: signer,
    cookieName: SESSION_COOKIE,
    store: new PgSessionStore(ctx.db.pool, maxAgeMs),
    saveUninitialized: false,
    rolling: false,
    cookie: { httpOnly: true, sameSite: 'strict', secure, path: '/', maxAge: maxAgeMs },
  });
  // The CSRF secret lives in a signed cookie of its own, not in the session: a session row is written only
  // at sign-in, where every anonymous GET /login (a probe, a crawler, a flood) wrote one that stayed for
  // sessionHours. Signed with the session's key, so a cookie planted from a sibling domain is refused.
  await app.register(fastifyCsrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: CSRF_COOKIE,
    cookieOpts: { path: '/', httpOnly: true, sameSite: 'strict', secure, signed: true },
    // Multipart uploads are streamed, so their token comes in the form's action URL (not member data).
    getToken: (request) => {
      const body = request.body as { _csrf?: unknown } | undefined;
      if (typeof body?._csrf === 'string') return body._csrf;
      const header = request.headers['x-csrf-token'];
      if (typeof header === 'string') return header;
      const query = request.query as { _csrf?: unknown } | undefined;
      return request.isMultipart() && typeof query?._csrf === 'string' ? query._csrf : undefined;
    },
  });
  await app.register(fastifyFormbody, { bodyLimit: 64 * 1024 });
  await app.register(fastifyMultipart, { limits: { fileSize: settings.previewMaxBytes, files: 1, fields: 5, fieldSize: 4096 } });
  await app.register(fastifyRateLimit, { global: false });

  // Every POST: a valid CSRF token first (403), then the sign-in and role checks of every route.
  app.addHook('preHandler', (request, reply, done) => {
    if (request.method === 'POST') app.csrfProtection(request, reply, done);
    else done();
  });
  app.addHook('preHandler', async (request, reply) => {
    const config = request.routeOptions.config;
    if (config.public) return;
    request.user = (await signedInUser(ctx, request)) ?? undefined;
    if (!request.user) return reply.redirect(loginUrl(request), 303);
    const needed = config.role ?? 'viewer';
    if (!allows(request.user.role, needed)) return forbidden(request, reply, `This needs the ${needed} role; you are signed in as ${request.user.role}.`);
  });
}

/** A local path to come back to after signing in (an alert's link to a run); anything else is dropped. */
export function safeNext(value: unknown): string | null {
  return typeof value === 'string' && /^\/(?!\/)[A-Za-z0-9/_.?=&%-]{0,200}$/.test(value) && !value.startsWith('/login') ? value : null;
}

/** /login, with the page asked for (GET only) to return to after signing in. */
function loginUrl(request: FastifyRequest): string {
  const next = request.method === 'GET' ? safeNext(request.url) : null;
  return next && next !== '/' && next !== '/tenants' ? `/login?next=${encodeURIComponent(next)}` : '/login';
}

/** The signed-in user: the trusted proxy's header (proxy mode, from a proxy address only) or the session's. */
async function signedInUser(ctx: ConsoleContext, request: FastifyRequest): Promise<SignedInUser | null> {
  const settings = ctx.app.http.console;
  if (settings.auth === 'proxy') {
    const fromProxy = settings.proxyAddresses.includes(normaliseAddress(request.socket.remoteAddress));
    const value = request.headers[settings.proxyHeader.toLowerCase()];
    const name = fromProxy && typeof value === 'string' ? value.trim() : '';
    if (!name) return null;
    const known = await findUser(ctx.db.pool, name);
    const user: SignedInUser = { name, role: known?.role ?? settings.proxyDefaultRole, viaProxy: true };
    // The first request of a browser session under this name counts as its sign-in (audit log).
    if (request.session.userName !== name) {
      request.session.userName = name;
      await recordAudit(ctx.db.pool, { actor: name, action: 'sign-in', detail: `via the proxy, role ${user.role}` });
    }
    return user;
  }
  const name = request.session.userName;
  if (!name) return null;
  // Looked up on every request: a removed user's sessions end at once, a role change applies at once.
  const user = await findUser(ctx.db.pool, name);
  return user ? { name: user.name, role: user.role } : null;
}

export function forbidden(request: FastifyRequest, reply: FastifyReply, message: string): FastifyReply {
  return sendPage(reply, page(request, reply, 'Not allowed', html`<p class="notice error">${message}</p>`), 403);
}

export function notFound(request: FastifyRequest, reply: FastifyReply, what = 'This page does not exist.'): FastifyReply {
  return sendPage(reply, page(request, reply, 'Not found', html`<p class="notice error">${what}</p><p><a href="/tenants">Back to the tenants</a></p>`), 404);
}

export { normaliseAddress };
