import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { healthReport, type TickState } from './health.js';
import { renderRunsPage } from './runs-page.js';

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
}

export interface WebServer {
  /** http://host:port */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** /healthz, /metrics and a read-only list of recent runs (/ and /runs). */
export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const logger = options.logger ?? silentLogger;
  const server = http.createServer((request, response) => {
    handle(options, request, response).catch((error: unknown) => {
      logger.error({ path: request.url, err: (error as Error).message }, 'http request failed');
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('internal error\n');
    });
  });
  // Keep-alive sockets must not hold shutdown open.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(options: WebServerOptions, request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
    return;
  }
  switch (url.pathname) {
    case '/healthz': {
      const report = await healthReport(options.pool, options.tickState(), {
        maxTickAgeSeconds: options.maxTickAgeSeconds,
        busyIsHealthy: options.databaseBusyIsHealthy === true,
      });
      response
        .writeHead(report.status === 'ok' ? 200 : 503, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
        .end(`${JSON.stringify(report)}\n`);
      return;
    }
    case '/metrics': {
      const body = await options.metrics.render();
      response.writeHead(200, { 'content-type': options.metrics.contentType() }).end(body);
      return;
    }
    case '/':
    case '/runs': {
      const tenant = url.searchParams.get('tenant') ?? undefined;
      const html = await renderRunsPage(options.pool, { tenant });
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
      return;
    }
    default:
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
  }
}
