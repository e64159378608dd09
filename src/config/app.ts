import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { isTimeZone } from './zoned.js';

const port = z.coerce.number().int().min(0).max(65535);

/** A list from YAML, or a comma-separated string from an environment variable. */
const stringList = z.preprocess(
  (value) => (typeof value === 'string' ? value.split(',').map((item) => item.trim()).filter((item) => item !== '') : value),
  z.array(z.string().min(1)),
);

const consoleSchema = z
  .object({
    /** users: built-in users (`hris-ingest users add`); proxy: a trusted header set by an authenticating proxy. */
    auth: z.enum(['users', 'proxy']).default('users'),
    /** proxy: the header carrying the signed-in user's name (oauth2-proxy: x-forwarded-user or x-auth-request-user). */
    proxyHeader: z.string().min(1).default('x-forwarded-user'),
    /** proxy: the proxy's own addresses; the header is ignored on a request from any other address. */
    proxyAddresses: stringList.default([]),
    /** proxy: the role of a proxy user without a console user of the same name. */
    proxyDefaultRole: z.enum(['viewer', 'csm', 'operator']).default('viewer'),
    /** Signs the session cookie (32+ characters); absent = a random one kept in the database, shared by replicas. */
    sessionSecret: z.string().min(32, 'at least 32 characters').optional(),
    /** A session ends this many hours after sign-in. */
    sessionHours: z.number().positive().default(12),
    /** Secure cookie flag; absent = on when dashboardUrl is https://. */
    secureCookie: z.boolean().optional(),
    /** Sign-in attempts (POST /login) per client address and minute; more answer 429. */
    loginAttemptsPerMinute: z.number().int().positive().default(5),
    /** Largest sample file POST /preview accepts (413 beyond). */
    previewMaxBytes: z.number().int().positive().default(200 * 1024 ** 2),
    /** Minutes a preview's files stay downloadable (then they are deleted). */
    previewTtlMinutes: z.number().int().positive().default(30),
    /** `npm start` on an empty users table creates a first operator and prints its one-time password. */
    firstOperator: z.string().min(1).default('admin'),
  })
  .strict()
  .prefault({});

export const appConfigSchema = z
  .object({
    /** Working folder for the embedded database, the development drop, local alerts and outputs. */
    dataDir: z.string().default('./data'),
    /** PostgreSQL connection string; absent = embedded PostgreSQL (PGlite) under dataDir/pg. */
    databaseUrl: z.string().url('a postgres:// URL, e.g. postgres://user@host:5432/db').optional(),
    drop: z
      .object({
        /** Absent = the development drop server on 127.0.0.1:port serving dataDir/drop. */
        host: z.string().min(1).optional(),
        port: port.default(2022),
        user: z.string().min(1).optional(),
        privateKeyFile: z.string().optional(),
        /** The private key itself (PEM/OpenSSH), e.g. from a secret; wins over privateKeyFile. */
        privateKey: z.string().optional(),
        passphrase: z.string().optional(),
        /** Pinned host key: "SHA256:..." as `ssh-keygen -lf` prints it. */
        hostKeySha256: z
          .string()
          .regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'the SHA256 fingerprint as `ssh-keygen -lf key.pub` prints it, e.g. "SHA256:abc...xyz"')
          .optional(),
        /** Customer-hosted drop where we may not move files: only the registry records what was seen. */
        readOnly: z.boolean().default(false),
        /** Seconds between two observations of equal size+mtime before a file is taken. */
        stableSeconds: z.number().min(0).default(60),
        maxFileBytes: z.number().int().positive().default(2 * 1024 ** 3),
        connectTimeoutMs: z.number().int().positive().default(20_000),
        keepaliveIntervalMs: z.number().int().positive().default(10_000),
        /** An SFTP operation (a listing, a stat, a move, a download's next bytes) unanswered this long drops the connection. */
        stallTimeoutMs: z.number().int().positive().default(120_000),
        /** Seconds a claim on a file is valid; a crashed poller's claim expires after this. */
        claimSeconds: z.number().int().positive().default(900),
        /** Failed ticks in a row before "drop unreachable" is reported. */
        alertAfterFailures: z.number().int().positive().default(3),
      })
      .strict()
      .prefault({}),
    schedule: z
      .object({
        cron: z.string().default('*/5 * * * *'),
        // Checked here, not only by the scheduler: `poll --once` and the late-file watch use it too, and an
        // unknown zone made the watch fail quietly on every tick while `config check` passed.
        timezone: z
          .string()
          .default('UTC')
          .refine(isTimeZone, { error: (issue) => `"${String(issue.input)}" is not a time zone; use an IANA name such as "UTC" or "America/New_York"` }),
        /**
         * Tenants processed in parallel in one tick. 4: one tick over 100 tenants of 1,000 rows took 43.6 s
         * with 1, 31.6 s with 2, 28.6 s with 4, 23.6 s with 8 (bench --e2e, 2 shared cores); each tenant in
         * flight holds its own file's memory (~150 MB at 1M rows), so not more.
         */
        maxParallelTenants: z.number().int().positive().default(4),
      })
      .strict()
      .prefault({}),
    slack: z
      .object({
        botToken: z.string().optional(),
        /** Channel id (C0123...) or name (#monitoring-hris-files). */
        channel: z.string().default('#monitoring-hris-files'),
        apiUrl: z.string().url().optional(),
        /** Per-request timeout of the Slack client; a call past it fails and the outbox retries it. */
        timeoutMs: z.number().int().positive().default(30_000),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        /** Dashboard, /healthz and /metrics; 0 = off. */
        port: port.default(8080),
        host: z.string().default('127.0.0.1'),
        /** Public URL of the dashboard, used for links in alerts. */
        dashboardUrl: z.string().url().optional(),
        /** A tick older than this many seconds makes /healthz unhealthy. */
        maxTickAgeSeconds: z.number().int().positive().default(900),
        /** The web console (sign-in, pages, downloads, decisions, preview): docs in the README's console section. */
        console: consoleSchema,
      })
      .strict()
      .prefault({}),
    retentionDays: z.number().int().positive().default(90),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** json in production; pretty on a terminal. */
        format: z.enum(['json', 'pretty', 'auto']).default('auto'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type AppConfig = z.infer<typeof appConfigSchema>;

/** Environment variables and the config path each one sets. */
export const ENV_VARS: Record<string, string[]> = {
  DATABASE_URL: ['databaseUrl'],
  HRIS_DATA_DIR: ['dataDir'],
  DROP_HOST: ['drop', 'host'],
  DROP_PORT: ['drop', 'port'],
  DROP_USER: ['drop', 'user'],
  DROP_PRIVATE_KEY_FILE: ['drop', 'privateKeyFile'],
  DROP_PRIVATE_KEY: ['drop', 'privateKey'],
  DROP_PASSPHRASE: ['drop', 'passphrase'],
  DROP_HOST_KEY_SHA256: ['drop', 'hostKeySha256'],
  SLACK_BOT_TOKEN: ['slack', 'botToken'],
  SLACK_CHANNEL: ['slack', 'channel'],
  SLACK_API_URL: ['slack', 'apiUrl'],
  SCHEDULE_CRON: ['schedule', 'cron'],
  SCHEDULE_TIMEZONE: ['schedule', 'timezone'],
  HTTP_PORT: ['http', 'port'],
  HTTP_HOST: ['http', 'host'],
  DASHBOARD_URL: ['http', 'dashboardUrl'],
  CONSOLE_AUTH: ['http', 'console', 'auth'],
  CONSOLE_PROXY_HEADER: ['http', 'console', 'proxyHeader'],
  CONSOLE_PROXY_ADDRESSES: ['http', 'console', 'proxyAddresses'],
  CONSOLE_SESSION_SECRET: ['http', 'console', 'sessionSecret'],
  RETENTION_DAYS: ['retentionDays'],
  LOG_LEVEL: ['log', 'level'],
  LOG_FORMAT: ['log', 'format'],
};

const NUMERIC_PATHS = new Set(['drop.port', 'http.port', 'retentionDays']);

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.HRIS_CONFIG_DIR ?? './config');
}

/**
 * Loads DIR/app.yaml (optional) and overlays the environment variables of ENV_VARS.
 * Relative paths (dataDir, key files) are resolved against the working directory.
 */
/** A YAML value's kind, for an error: "a string", "a number", "a list". */
function describeYaml(value: unknown): string {
  return Array.isArray(value) ? 'a list' : value === null ? 'nothing' : `a ${typeof value}`;
}

export async function loadAppConfig(dir = configDir(), env: NodeJS.ProcessEnv = process.env): Promise<AppConfig> {
  const file = path.join(dir, 'app.yaml');
  let raw: unknown = {};
  try {
    raw = parseYaml(await readFile(file, 'utf8')) ?? {};
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(file, [{ path: '', message: `not readable YAML: ${(error as Error).message}` }]);
    }
  }
  const isMapping = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
  // The environment is laid over the file's mappings: a file that is not one (or a section that is not)
  // is the file's error, named as the schema names it, not a TypeError of the overlay.
  if (!isMapping(raw)) throw new ConfigError(file, [{ path: '', message: `expected a mapping of settings (key: value lines), got ${describeYaml(raw)}` }]);
  for (const [name, keys] of Object.entries(ENV_VARS)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    let target = raw;
    let at: string[] = [];
    for (const key of keys.slice(0, -1)) {
      at = [...at, key];
      const next = (target[key] ??= {});
      if (!isMapping(next)) throw new ConfigError(file, [{ path: at.join('.'), message: `expected a mapping of settings (${name} sets ${keys.join('.')}), got ${describeYaml(next)}` }]);
      target = next;
    }
    const dotted = keys.join('.');
    target[keys[keys.length - 1]!] = NUMERIC_PATHS.has(dotted) ? Number(value) : value;
  }
  const parsed = appConfigSchema.safeParse(raw);
  if (!parsed.success) throw ConfigError.fromZod(`${file} (or its environment variables)`, parsed.error);
  return parsed.data;
}
