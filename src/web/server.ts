import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { appConfigSchema, type AppConfig } from '../config/app.js';
import type { TenantConfig } from '../config/tenant.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Database } from '../store/db.js';
import { registerConsole } from './console.js';
import type { ConsoleContext } from './context.js';
import { healthReport, type TickState } from './health.js';
import { html } from './html.js';
import { page, sendPage } from './layout.js';

export interface WebServerOptions {
  pool: pg.Pool;
  metrics: Metrics;
  tickState: () => TickState;
  maxTickAgeSeconds: number;
  /** Embedded database (one connection): a connection in use counts as answering. */
  databaseBusyIsHealthy?: boolean;
  host: string;
  /** 0 = any free port (tests). */
  port: number;
  logger?: Logger;
  /** The console's database (default: POOL as a server database). */
  db?: Database;
  /** Configuration of the console (default: the built-in defaults). */
  app?: AppConfig;
  tenants?: Map<string, TenantConfig>;
  /** The poller's next tick (the daemon). */
  nextTick?: () => Date | null;
  /** Where approved runs' files are written. */
  outDir?: string;
  /** Folder for uploads and preview files (default the OS temp folder). */
  tempDir?: string;
}

export interface WebServer {
  /** http://host:port */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The fastify app: /healthz and /metrics (open), the console (signed in). Tests use inject() on it. */
export async function buildWebApp(options: WebServerOptions): Promise<FastifyInstance> {
  const logger = options.logger ?? silentLogger;
  const app = options.app ?? appConfigSchema.parse({});
  const ctx: ConsoleContext = {
    db: options.db ?? { pool: options.pool, url: '', embedded: options.databaseBusyIsHealthy === true, close: async () => undefined },
    app,
    tenants: options.tenants ?? new Map(),
    logger,
    ...(options.nextTick ? { nextTick: options.nextTick } : {}),
    ...(options.outDir ? { outDir: options.outDir } : {}),
  };
  // No request logging: URLs and bodies stay out of the logs; failures are logged below by path only.
  const server = Fastify({
    logger: false,
    trustProxy: app.http.console.proxyAddresses.length > 0 ? app.http.console.proxyAddresses : false,
    keepAliveTimeout: 5000,
    forceCloseConnections: true,
  });

  server.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) logger.error({ path: request.routeOptions.url ?? 'unknown route', err: error.message }, 'http request failed');
    const message =
      status === 403 ? 'The form was out of date or not sent from this console (CSRF check). Reload the page and try again.'
      : status === 413 ? 'The upload is larger than this console accepts.'
      : status === 429 ? 'Too many attempts. Wait a minute and try again.'
      : status >= 500 ? 'Something went wrong on the server; the log has the details.'
      : 'The request could not be handled.';
    return sendPage(reply, page(request, reply, `Error ${status}`, html`<p class="notice error" role="alert">${message}</p>`), status);
  });

  server.get('/healthz', { config: { public: true } }, async (_request, reply) => {
    const report = await healthReport(options.pool, options.tickState(), {
      maxTickAgeSeconds: options.maxTickAgeSeconds,
      busyIsHealthy: options.databaseBusyIsHealthy === true,
    });
    return reply
      .code(report.status === 'ok' ? 200 : 503)
      .header('content-type', 'application/json; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(`${JSON.stringify(report)}\n`);
  });
  server.get('/metrics', { config: { public: true } }, async (_request, reply) => {
    const body = await options.metrics.render();
    return reply.header('content-type', options.metrics.contentType()).send(body);
  });

  await registerConsole(server, ctx, options.tempDir ? { tempDir: options.tempDir } : {});
  return server;
}

/** Listens on host:port with the app of buildWebApp. */
export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const server = await buildWebApp(options);
  await server.listen({ port: options.port, host: options.host });
  const port = (server.server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { url: `http://${host}:${port}`, port, close: () => server.close() };
}
