import { InvalidArgumentError } from 'commander';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { loadAppConfig, configDir, type AppConfig } from '../config/app.js';
import { TenantRegistry, tenantIdOfFile, type BrokenTenantFile } from '../config/reload.js';
import type { TenantConfig } from '../config/tenant.js';
import { createLogger, type Logger } from '../log.js';
import type { Database } from '../store/db.js';

/** Exit codes of the command line (a stable contract). */
export const EXIT = { ok: 0, failure: 1, rejected: 2, held: 3 } as const;

/** A usage or input problem the user can fix; printed without a stack trace, exit 1. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CliContext {
  configDir: string;
  app: AppConfig;
  tenants: Map<string, TenantConfig>;
  /** Tenant files refused (TenantRegistry): their tenants are left out, the others work. */
  refused: BrokenTenantFile[];
}

/**
 * The configuration, read as the service reads it: a tenant file that is broken (or a second file of one
 * tenant, or an inbox shared with another) leaves its tenant out with a warning on stderr, and every other
 * tenant works; one broken file stopped every command, and `start` and `poll --once` with them.
 * `config check` fails on it.
 */
export async function loadCliContext(env: NodeJS.ProcessEnv = process.env): Promise<CliContext> {
  const dir = configDir(env);
  const app = await loadAppConfig(dir, env);
  const registry = new TenantRegistry(dir);
  // No tenants/ folder at all is no tenant (a first start), not an unreadable folder.
  const refused = existsSync(path.join(dir, 'tenants')) ? (await registry.reload()).broken : [];
  for (const file of refused) {
    process.stderr.write(`warning: ${path.join('tenants', file.file)} is not used (fix it; \`config check\` shows every problem): ${file.error}\n`);
  }
  return { configDir: dir, app, tenants: registry.tenants, refused };
}

export function tenantOrFail(ctx: CliContext, id: string): TenantConfig {
  const tenant = ctx.tenants.get(id);
  const refused = ctx.refused.find((file) => tenantIdOfFile(file.file) === id);
  if (!tenant && refused) throw new UsageError(`tenant "${id}" is not usable: ${path.join(ctx.configDir, 'tenants', refused.file)}: ${refused.error}`);
  if (!tenant) {
    const known = [...ctx.tenants.keys()].join(', ') || 'none';
    throw new UsageError(`unknown tenant "${id}": add ${path.join(ctx.configDir, 'tenants', `${id}.yaml`)} (configured: ${known})`);
  }
  return tenant;
}


/**
 * Runs FN with the configured database and always closes it (an open pool keeps the process alive). The
 * database modules load here, on first use: a command that needs none (preview --against) starts without
 * pg and the migrations (part of the CLI preview's start-up, docs/bench.md).
 */
export async function withDatabase<T>(app: AppConfig, fn: (db: Database) => Promise<T>): Promise<T> {
  let db: Database;
  try {
    const { openConfiguredDatabase } = await import('../store/connect.js');
    db = await openConfiguredDatabase(app);
  } catch (error) {
    const where = app.databaseUrl ? 'the database at DATABASE_URL' : `the embedded database under ${path.resolve(app.dataDir, 'pg')}`;
    throw new Error(`cannot open ${where}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return await fn(db);
  } finally {
    await db.close().catch(() => undefined);
  }
}

/** A local file as the engine reads it (structurally the engine's FileInput). */
export interface LocalFile {
  name: string;
  path: string;
  open(): Readable;
}

/** Checks that FILE is a readable regular file; the name the engine sees is its base name. */
export async function localFile(file: string): Promise<LocalFile> {
  const absolute = path.resolve(file);
  let info;
  try {
    info = await stat(absolute);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `file not found: ${file}` : `cannot read ${file}: ${(error as Error).message}`);
  }
  if (!info.isFile()) throw new UsageError(`not a file: ${file}`);
  return { name: path.basename(absolute), path: absolute, open: () => createReadStream(absolute) };
}

/** The output folder (default ./out), created when missing. */
export async function outputDir(dir: string | undefined): Promise<string> {
  const resolved = path.resolve(dir ?? './out');
  try {
    await mkdir(resolved, { recursive: true });
  } catch (error) {
    throw new UsageError(`cannot create the output folder ${resolved}: ${(error as Error).message}`);
  }
  return resolved;
}

/** Logs of one-shot commands go to stderr; warnings and worse unless LOG_LEVEL says otherwise. */
export function cliLogger(app: AppConfig, env: NodeJS.ProcessEnv = process.env): Logger {
  return createLogger({ level: env.LOG_LEVEL ? app.log.level : 'warn', format: app.log.format });
}

/** commander argument parser: a positive whole number (a bad value is a usage error, exit 1). */
export function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) <= 0) {
    throw new InvalidArgumentError('expected a positive whole number.');
  }
  // A longer one reached PostgreSQL as a run id ("out of range for type bigint"), or lost digits as a count.
  if (!Number.isSafeInteger(Number(value))) throw new InvalidArgumentError(`expected a positive whole number of at most ${Number.MAX_SAFE_INTEGER}.`);
  return Number(value);
}

/** Who runs the command: the OS user (runs approve|reject --by overrides it). */
export function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'cli';
  }
}

/** The console audit log's actor for what the command line did: "cli:NAME", told apart from console users. */
export function cliActor(name: string = osUser()): string {
  return `cli:${name}`;
}
