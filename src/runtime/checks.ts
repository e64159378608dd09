import { readdir } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { loadAppConfig, type AppConfig } from '../config/app.js';
import { ConfigError } from '../config/errors.js';
import { checkTenantKeys } from '../config/pgp-keys.js';
import { TenantRegistry, tenantIdOfFile } from '../config/reload.js';
import { undeclaredColumnTargets, type TenantConfig } from '../config/tenant.js';
import { connectDrop, HostKeyError, resolveDropConnection } from '../drop/client.js';
import { tenantLayout } from '../drop/layout.js';
import { scheduleCronProblem } from '../drop/scheduler.js';
import { findUnconfiguredFolders } from '../drop/unconfigured.js';
import { silentLogger } from '../log.js';
import { alertsDir } from '../notify/create.js';
import { SlackNotifier } from '../notify/slack.js';
import { redactUrl } from '../store/connect.js';
import { openDatabase } from '../store/db.js';
import { migrate } from '../store/migrate.js';

/** One line of the `config check` report. */
export interface CheckResult {
  name: string;
  status: 'ok' | 'FAIL' | 'skip';
  detail: string;
}

export interface ConfigCheckReport {
  results: CheckResult[];
  ok: boolean;
}

const ok = (name: string, detail: string): CheckResult => ({ name, status: 'ok', detail });
const fail = (name: string, detail: string): CheckResult => ({ name, status: 'FAIL', detail });
const skip = (name: string, detail: string): CheckResult => ({ name, status: 'skip', detail });

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, '; ').replace(/\s+/g, ' ').trim();
}

function configProblems(error: unknown): string {
  if (error instanceof ConfigError) return `${error.file}: ${error.problems.map((p) => `${p.path || '(top level)'}: ${p.message}`).join('; ')}`;
  return oneLine((error as Error).message);
}

/**
 * Every tenant file, one line each, read as the service reads them (TenantRegistry): a file the service
 * would refuse (broken, a second file of one tenant, an inbox shared with another tenant) fails here.
 */
async function checkTenants(configDir: string, env: NodeJS.ProcessEnv = process.env): Promise<{ results: CheckResult[]; tenants: Map<string, TenantConfig> }> {
  const dir = path.join(configDir, 'tenants');
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.ya?ml$/i.test(n)).sort();
  } catch {
    return { results: [fail('tenants', `no folder ${dir}: add tenants/<id>.yaml beside app.yaml (HRIS_CONFIG_DIR=${configDir})`)], tenants: new Map() };
  }
  if (names.length === 0) return { results: [fail('tenants', `no tenant files in ${dir}: add tenants/<id>.yaml`)], tenants: new Map() };
  const registry = new TenantRegistry(configDir);
  const { broken } = await registry.reload();
  const results: CheckResult[] = [];
  for (const name of names) {
    const id = tenantIdOfFile(name);
    const refused = broken.find((b) => b.file === name);
    const tenant = registry.tenants.get(id);
    if (refused || !tenant) {
      results.push(fail(`tenant ${id}`, `${path.join(dir, name)}: ${refused?.error ?? 'not loaded'}`));
      continue;
    }
    const undeclared = undeclaredColumnTargets(tenant);
    if (undeclared.length > 0) {
      const listed = undeclared.slice(0, 5).join(', ') + (undeclared.length > 5 ? ` and ${undeclared.length - 5} more` : '');
      results.push(
        fail(
          `tenant ${id}`,
          `${path.join(dir, name)}: columns: ${listed}: neither a field of the spec nor a declared custom segment (a typo? files would read it as a custom segment); ` +
            'fix the field name, or add it to customSegments',
        ),
      );
    } else {
      results.push(ok(`tenant ${id}`, `${path.join(dir, name)} (inbox ${tenantLayout(tenant).inbox})`));
    }
    if (tenant.pgp) {
      results.push(await checkTenantKeys(tenant.id, tenant.pgp, env).then((detail) => ok(`tenant ${tenant.id} pgp`, detail), (error: Error) => fail(`tenant ${tenant.id} pgp`, oneLine(error.message))));
    }
  }
  return { results, tenants: registry.tenants };
}

async function checkDatabase(app: AppConfig): Promise<CheckResult> {
  if (!app.databaseUrl) {
    const dir = path.resolve(app.dataDir, 'pg');
    try {
      const db = await openDatabase({ embeddedDir: dir });
      await db.close();
      return ok('database', `embedded PostgreSQL (PGlite) under ${dir}, migrations applied (set DATABASE_URL for a real server)`);
    } catch (error) {
      return fail('database', `embedded database under ${dir} cannot be opened: ${oneLine((error as Error).message)} (is another hris-ingest using it?)`);
    }
  }
  const where = redactUrl(app.databaseUrl);
  const pool = new pg.Pool({ connectionString: app.databaseUrl, max: 1, connectionTimeoutMillis: 10_000 });
  pool.on('error', () => undefined);
  try {
    let version: string;
    try {
      version = (await pool.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]!.v;
    } catch (error) {
      return fail('database', `cannot connect to ${where} (DATABASE_URL): ${describePgError(error)}`);
    }
    try {
      const applied = await migrate(pool);
      return ok('database', `PostgreSQL ${version} at ${where}; migrations ${applied.length > 0 ? `applied now: ${applied.join(', ')}` : 'up to date'}`);
    } catch (error) {
      return fail('database', `connected to ${where}, but ${oneLine((error as Error).message)} (the user needs CREATE rights on the database)`);
    }
  } finally {
    await pool.end().catch(() => undefined);
  }
}

function describePgError(error: unknown): string {
  const coded = error as { code?: string; message?: string };
  switch (coded.code) {
    case 'ECONNREFUSED':
      return 'connection refused (is PostgreSQL running on that host and port?)';
    case 'ENOTFOUND':
      return 'host not found';
    case '28P01':
      return 'password authentication failed (check the user and password in DATABASE_URL)';
    case '28000':
      return `not allowed to connect: ${coded.message ?? ''}`;
    case '3D000':
      return `${coded.message ?? 'database does not exist'} (create it, or fix the database name in DATABASE_URL)`;
    default:
      return oneLine(coded.message ?? String(error));
  }
}

/** ssh2's messages, turned into what to fix. */
function describeDropError(message: string, user: string, where: string): string {
  if (/All configured authentication methods failed/i.test(message)) {
    return `login refused: ${where} did not accept user "${user}" with the configured private key (DROP_USER, DROP_PRIVATE_KEY_FILE / DROP_PRIVATE_KEY); check the key's public half is authorised for that user`;
  }
  if (/no passphrase given|Encrypted private/i.test(message)) return 'the private key is encrypted: set DROP_PASSPHRASE';
  if (/bad passphrase/i.test(message)) return 'the private key passphrase is wrong: check DROP_PASSPHRASE';
  if (/bad decrypt|Cannot parse privateKey|Unsupported key format/i.test(message)) {
    return `the private key cannot be read (${oneLine(message)}): check DROP_PRIVATE_KEY_FILE / DROP_PRIVATE_KEY and DROP_PASSPHRASE`;
  }
  if (/ECONNREFUSED/.test(message)) return `nothing accepts connections on ${where} (connection refused): check DROP_HOST and DROP_PORT`;
  if (/ENOTFOUND|EAI_AGAIN/.test(message)) return `host of ${where} not found: check DROP_HOST`;
  if (/Timed out|ETIMEDOUT/i.test(message)) return `no answer from ${where} within the connect timeout (drop.connectTimeoutMs): check DROP_HOST, DROP_PORT and firewalls`;
  return oneLine(message);
}

async function checkDrop(app: AppConfig, tenants: Map<string, TenantConfig>): Promise<CheckResult> {
  if (!app.drop.host) {
    return skip('drop', `no DROP_HOST: \`hris-ingest start\` runs the development drop on 127.0.0.1:${app.drop.port} with its own keys`);
  }
  const where = `${app.drop.host}:${app.drop.port}`;
  let connection;
  try {
    connection = await resolveDropConnection(app);
  } catch (error) {
    return fail('drop', oneLine((error as Error).message));
  }
  let session;
  try {
    session = await connectDrop(connection, silentLogger);
  } catch (error) {
    if (error instanceof HostKeyError) {
      return fail(
        'drop',
        error.expected
          ? `host key mismatch at ${where}: the server presented ${error.seen}, but ${error.expected} is pinned (DROP_HOST_KEY_SHA256); if the server's key really changed, verify it with its operator and pin the new one`
          : `no pinned host key for ${where}: the server presented ${error.seen}; verify it with the server's operator and set DROP_HOST_KEY_SHA256`,
      );
    }
    return fail('drop', describeDropError((error as Error).message, connection.username, where));
  }
  try {
    const missing: string[] = [];
    for (const tenant of tenants.values()) {
      const inbox = tenantLayout(tenant).inbox;
      if ((await session.sftp.exists(inbox)) !== 'd') missing.push(inbox);
    }
    const inboxes = missing.length === 0 ? `all ${tenants.size} tenant inboxes present` : `inboxes missing (created on the first poll unless readOnly): ${missing.join(', ')}`;
    // Files waiting in a folder no tenant config names are never taken (src/drop/unconfigured.ts).
    const unconfigured = await findUnconfiguredFolders(session, tenants.values()).catch(() => []);
    if (unconfigured.length > 0) {
      const list = unconfigured.slice(0, 10).map((u) => `${u.folder} (${u.files} file(s))`).join(', ');
      const more = unconfigured.length > 10 ? ` and ${unconfigured.length - 10} more` : '';
      return fail('drop', `logged in to ${where}; ${inboxes}; but folders with files in their inbox have no tenant config: ${list}${more}: add tenants/<id>.yaml for each`);
    }
    return ok('drop', `logged in as ${connection.username}@${where}, host key ${connection.hostKeySha256} matches; ${inboxes}`);
  } catch (error) {
    return fail('drop', `logged in to ${where}, but listing failed: ${oneLine((error as Error).message)}`);
  } finally {
    await session.close();
  }
}

async function checkSlack(app: AppConfig, tenants: Map<string, TenantConfig>): Promise<CheckResult[]> {
  if (!app.slack.botToken) {
    return [skip('slack', `no SLACK_BOT_TOKEN: alerts are written under ${alertsDir(app)}`)];
  }
  const slack = new SlackNotifier({ token: app.slack.botToken, channel: app.slack.channel, ...(app.slack.apiUrl ? { apiUrl: app.slack.apiUrl } : {}), logger: silentLogger, timeoutMs: 15_000 });
  let who;
  try {
    who = await slack.check();
  } catch (error) {
    return [fail('slack', oneLine((error as Error).message))];
  }
  const results = [ok('slack', `auth.test: bot "${who.user}" in team "${who.team}"`)];
  const channels = new Set([app.slack.channel, ...[...tenants.values()].flatMap((t) => (t.slackChannel ? [t.slackChannel] : []))]);
  for (const channel of channels) {
    try {
      const id = await slack.resolveChannel(channel);
      results.push(ok(`slack channel ${channel}`, `channel id ${id}`));
    } catch (error) {
      results.push(fail(`slack channel ${channel}`, oneLine((error as Error).message)));
    }
  }
  return results;
}

/** Validates the configuration, then tries every dependency it names. */
export async function runConfigCheck(configDir: string, env: NodeJS.ProcessEnv = process.env): Promise<ConfigCheckReport> {
  const results: CheckResult[] = [];
  let app: AppConfig | undefined;
  try {
    app = await loadAppConfig(configDir, env);
    // The poller's cron is node-cron's to read (it may have a seconds field): checked by node-cron, as `start` does.
    const cronProblem = scheduleCronProblem(app.schedule.cron);
    results.push(cronProblem ? fail('app config', cronProblem) : ok('app config', `${path.join(configDir, 'app.yaml')} and environment`));
  } catch (error) {
    results.push(fail('app config', configProblems(error)));
  }
  const tenantCheck = await checkTenants(configDir, env);
  results.push(...tenantCheck.results);
  if (app) {
    results.push(await checkDatabase(app));
    results.push(await checkDrop(app, tenantCheck.tenants));
    results.push(...(await checkSlack(app, tenantCheck.tenants)));
  } else {
    results.push(skip('database, drop, slack', 'not tried: fix the app config first'));
  }
  return { results, ok: results.every((result) => result.status !== 'FAIL') };
}

export function formatReport(report: ConfigCheckReport): string {
  const lines = report.results.map((r) =>
    r.status === 'FAIL' ? `${r.name}: FAIL: ${r.detail}` : r.status === 'skip' ? `${r.name}: skipped (${r.detail})` : `${r.name}: ok (${r.detail})`,
  );
  const failures = report.results.filter((r) => r.status === 'FAIL').length;
  lines.push(failures === 0 ? 'config check passed' : `config check failed: ${failures} problem(s)`);
  return `${lines.join('\n')}\n`;
}
