import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { recordAudit } from '../store/console-audit.js';
import { findUser } from '../store/console-users.js';
import type { ConsoleContext } from './context.js';
import { html, type Html } from './html.js';
import { csrfField, page, sendPage } from './layout.js';
import { verifyPassword } from './passwords.js';
import { safeNext } from './security.js';

/** One message for every failed sign-in: it never tells whether the name exists. */
export const SIGN_IN_FAILED = 'Sign-in failed: wrong name or password.';

/** GET/POST /login, POST /logout. */
export function registerLogin(app: FastifyInstance, ctx: ConsoleContext): void {
  const proxyMode = ctx.app.http.console.auth === 'proxy';

  app.get('/login', { config: { public: true } }, async (request, reply) => {
    if (proxyMode) {
      return sendPage(reply, page(request, reply, 'Sign in', html`<p class="notice warn">This console signs you in through your organisation's
        sign-in proxy. Open it through the proxy's address.</p>`));
    }
    return sendPage(reply, loginPage(request, reply, safeNext((request.query as { next?: unknown }).next)));
  });

  app.post<{ Body: { username?: string; password?: string; next?: string } }>(
    '/login',
    { config: { public: true, rateLimit: { max: ctx.app.http.console.loginAttemptsPerMinute, timeWindow: 60_000 } } },
    async (request, reply) => {
      if (proxyMode) return reply.redirect('/login', 303);
      const name = typeof request.body?.username === 'string' ? request.body.username.trim() : '';
      const password = typeof request.body?.password === 'string' ? request.body.password : '';
      const user = name ? await findUser(ctx.db.pool, name) : null;
      // verifyPassword runs scrypt for unknown names too: a wrong name takes as long as a wrong password.
      const ok = await verifyPassword(password, user?.passwordHash ?? null);
      if (!ok || !user) {
        await recordAudit(ctx.db.pool, { actor: user?.name ?? null, action: 'sign-in-failed', detail: user ? 'wrong password' : 'unknown name' });
        return sendPage(reply, loginPage(request, reply, safeNext(request.body?.next), html`<p class="notice error" role="alert">${SIGN_IN_FAILED}</p>`), 401);
      }
      // A new session id at sign-in: a session id planted before cannot be ridden.
      await request.session.regenerate();
      request.session.userName = user.name;
      await recordAudit(ctx.db.pool, { actor: user.name, action: 'sign-in', detail: `role ${user.role}` });
      ctx.logger.info({ user: user.name }, 'console sign-in');
      return reply.redirect(safeNext(request.body?.next) ?? '/tenants', 303);
    },
  );

  app.post('/logout', { config: { public: true } }, async (request, reply) => {
    const name = request.session.userName;
    if (name) await recordAudit(ctx.db.pool, { actor: name, action: 'sign-out' });
    await request.session.destroy();
    return reply.redirect('/login', 303);
  });
}

function loginPage(request: FastifyRequest, reply: FastifyReply, next: string | null, message?: Html): Html {
  return page(
    request,
    reply,
    'Sign in',
    html`<div class="login">${message}
<form class="panel" method="post" action="/login">${csrfField(reply)}${next ? html`<input type="hidden" name="next" value="${next}">` : null}
  <label for="username">Name</label><input id="username" name="username" type="text" autocomplete="username" required autofocus>
  <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
  <p><button type="submit">Sign in</button></p>
</form></div>`,
  );
}
