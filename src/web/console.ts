import { tmpdir } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { registerAuditPage } from './audit-page.js';
import type { ConsoleContext } from './context.js';
import { registerDecisions } from './decisions.js';
import { registerDownloads } from './downloads.js';
import { registerLogin } from './login.js';
import { registerPreview } from './preview.js';
import { registerRunPage } from './run-page.js';
import { registerRunsList } from './runs-list.js';
import { notFound, registerSecurity } from './security.js';
import { registerStyle } from './style.js';
import { registerTenantsPage } from './tenants-page.js';

/** Every console route group; each lives in its own file. */
export async function registerConsole(app: FastifyInstance, ctx: ConsoleContext, options: { tempDir?: string } = {}): Promise<void> {
  await registerSecurity(app, ctx);
  registerStyle(app);
  app.setNotFoundHandler((request, reply) => notFound(request, reply));
  registerLogin(app, ctx);
  app.get('/', async (_request, reply) => reply.redirect('/tenants', 302));
  registerTenantsPage(app, ctx);
  registerRunsList(app, ctx);
  registerRunPage(app, ctx);
  registerDownloads(app, ctx);
  registerDecisions(app, ctx);
  registerPreview(app, ctx, options.tempDir ?? tmpdir());
  registerAuditPage(app, ctx);
}
