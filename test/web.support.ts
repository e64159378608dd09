import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach } from 'vitest';
import { appConfigSchema } from '../src/config/app.js';
import type { TenantConfig } from '../src/config/tenant.js';
import { Metrics } from '../src/metrics.js';
import { storeGauges } from '../src/store/gauges.js';
import { upsertUser, type Role } from '../src/store/console-users.js';
import { hashPassword } from '../src/web/passwords.js';
import { buildWebApp } from '../src/web/server.js';
import { tenantOf } from './pipeline.support.js';
import { freshDatabase, type TestDatabase } from './support/db.js';

export const PASSWORD = 'correct horse battery';
export const USERS: Record<Role, string> = { viewer: 'vera', csm: 'carl', operator: 'olga' };

/** A browser's cookies for inject(): the Set-Cookie answers kept and sent back. */
export class Jar {
  private cookies = new Map<string, string>();
  take(response: LightMyRequestResponse): LightMyRequestResponse {
    for (const cookie of response.cookies) {
      if (cookie.value === '' || (cookie.expires && cookie.expires.getTime() < Date.now())) this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
    return response;
  }
  /** Forgets a cookie (a browser restart forgets the ones without Max-Age). */
  drop(name: string): void {
    this.cookies.delete(name);
  }
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/** The CSRF token of the first form in HTML. */
export function csrfOf(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error('no CSRF token in the page');
  return match[1]!;
}

export interface ConsoleTest {
  db: TestDatabase;
  app: FastifyInstance;
  tenants: Map<string, TenantConfig>;
  tempDir: string;
  outDir: string;
}

/** A signed-in client: GET and form POSTs with its cookies and a fresh token from PAGE. */
export interface Client {
  jar: Jar;
  get(url: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  post(url: string, form: Record<string, string>, options?: { tokenFrom?: string; token?: string | null }): Promise<LightMyRequestResponse>;
}

export function client(app: FastifyInstance, jar = new Jar()): Client {
  const self: Client = {
    jar,
    get: async (url, headers = {}) => jar.take(await app.inject({ method: 'GET', url, headers: { cookie: jar.header(), ...headers } })),
    async post(url, form, options = {}) {
      let token = options.token;
      if (token === undefined) token = csrfOf((await self.get(options.tokenFrom ?? '/tenants')).body);
      const body = new URLSearchParams({ ...form, ...(token === null ? {} : { _csrf: token }) }).toString();
      return jar.take(
        await app.inject({ method: 'POST', url, payload: body, headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' } }),
      );
    },
  };
  return self;
}

export async function signIn(app: FastifyInstance, role: Role): Promise<Client> {
  const c = client(app);
  const response = await c.post('/login', { username: USERS[role], password: PASSWORD }, { tokenFrom: '/login' });
  if (response.statusCode !== 303 || response.headers.location !== '/tenants') throw new Error(`sign-in as ${role} failed: ${response.statusCode}`);
  return c;
}

/** T's console app (one replica): the test's database and tenants, temporary files under TEMP_DIR. */
function buildConsole(t: ConsoleTest, tempDir: string, config: Record<string, unknown>): Promise<FastifyInstance> {
  return buildWebApp({
    pool: t.db.pool,
    db: t.db,
    metrics: new Metrics({ gauges: storeGauges(t.db.pool) }),
    tickState: () => ({ startedAt: new Date() }),
    maxTickAgeSeconds: 60,
    host: '127.0.0.1',
    port: 0,
    app: appConfigSchema.parse({ http: { console: config } }),
    tenants: t.tenants,
    tempDir,
    outDir: t.outDir,
  });
}

/** Another replica of T's console: its own process state and temp folder, the same database. */
export async function anotherReplica(t: ConsoleTest, config: Record<string, unknown> = {}): Promise<FastifyInstance> {
  return buildConsole(t, await mkdtemp(path.join(t.tempDir, 'replica-')), config);
}

/** A fresh database with the three users, the console app on it (tenants acme and beta). */
export function useConsole(config: Record<string, unknown> = {}): ConsoleTest {
  const t = {} as ConsoleTest;
  beforeEach(async () => {
    t.db = await freshDatabase();
    const hash = await hashPassword(PASSWORD);
    for (const [role, name] of Object.entries(USERS)) await upsertUser(t.db.pool, { name, role: role as Role, passwordHash: hash });
    t.tenants = new Map([
      ['acme', tenantOf()],
      ['beta', tenantOf({ id: 'beta', name: 'Beta' })],
    ]);
    t.tempDir = await mkdtemp(path.join(tmpdir(), 'console-test-'));
    t.outDir = path.join(t.tempDir, 'out');
    t.app = await buildConsole(t, path.join(t.tempDir, 'tmp'), config);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(path.join(t.tempDir, 'tmp'), { recursive: true });
  });
  afterEach(async () => {
    await t.app.close();
    await t.db.dispose();
    await rm(t.tempDir, { recursive: true, force: true });
  });
  return t;
}
