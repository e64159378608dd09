import { constants } from 'node:fs';
import { access, copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppConfig } from '../config/app.js';
import type { TenantConfig } from '../config/tenant.js';
import { devDropPaths, devInboxDir, ensureDevDropKeys, ensureKeyPair } from '../drop/dev-keys.js';
import { fingerprintOfPublicKeyLine } from '../drop/fingerprint.js';
import { tenantLayout } from '../drop/layout.js';

/** The sample membership file `npm start` drops into the example tenant's inbox on first start. */
export const SAMPLE_FILE_NAME = '10KC Membership File - Your Organization Name - All Active Personnel - 01.13.2023.csv';
export const EXAMPLE_TENANT = 'example';

/** Which parts run embedded: PGlite without a database URL, the development drop without a drop host. */
export interface EmbeddedParts {
  database: boolean;
  drop: boolean;
}

export function embeddedParts(app: AppConfig): EmbeddedParts {
  return { database: !app.databaseUrl, drop: !app.drop.host };
}

const DEFAULT_CRON = '*/5 * * * *';
/** With the development drop: a tick every 15 s ... */
export const EMBEDDED_CRON = '*/15 * * * * *';
/** ... and a file is taken once unchanged for 5 s, so a dropped file is processed within about a minute. */
export const EMBEDDED_STABLE_SECONDS = 5;

/**
 * The development drop is local, so `npm start` polls fast: the schedule becomes every 15 s unless a
 * cron other than the default was configured, and the stability interval at most 5 s.
 */
export function withEmbeddedTiming(app: AppConfig, env: NodeJS.ProcessEnv = process.env): AppConfig {
  if (app.drop.host) return app;
  const cron = env.SCHEDULE_CRON || app.schedule.cron !== DEFAULT_CRON ? app.schedule.cron : EMBEDDED_CRON;
  return {
    ...app,
    drop: { ...app.drop, stableSeconds: Math.min(app.drop.stableSeconds, EMBEDDED_STABLE_SECONDS) },
    schedule: { ...app.schedule, cron },
  };
}

export interface UploaderAccess {
  user: string;
  /** Private key file of the uploader (relative to the working directory when under it). */
  keyFile: string;
  knownHostsFile: string;
  hostKeySha256: string;
  /** The exact command to upload a file as this tenant. */
  command: string;
  /** The remote folder to put files into, as the uploader sees it. */
  remoteInbox: string;
}

/** FILE relative to the working directory when under it, else as is (for the printed commands). */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/**
 * An uploader account on the development drop per tenant, as a customer's ETL job would have: a key
 * pair under keysDir/users/<tenant> (the dev drop jails that user to /<tenant>), and one known_hosts
 * file that pins the drop's own host key, so `sftp` needs no questions answered.
 */
export async function ensureUploaderAccess(app: AppConfig, tenants: Iterable<TenantConfig>): Promise<UploaderAccess[]> {
  const { keysDir } = devDropPaths(app);
  const keys = await ensureDevDropKeys(keysDir);
  const usersDir = path.join(keysDir, 'users');
  await mkdir(usersDir, { recursive: true, mode: 0o700 });
  const port = app.drop.port;
  const knownHostsFile = path.join(keysDir, 'known_hosts');
  const [type, blob] = keys.host.publicKey.split(/\s+/);
  const hostName = port === 22 ? '127.0.0.1' : `[127.0.0.1]:${port}`;
  await writeFile(knownHostsFile, `${hostName} ${type} ${blob}\n`, { mode: 0o644 });
  const knownHosts = displayPath(knownHostsFile);
  const hostKeySha256 = fingerprintOfPublicKeyLine(keys.host.publicKey);
  const accesses: UploaderAccess[] = [];
  for (const tenant of tenants) {
    await ensureKeyPair(usersDir, tenant.id, `${tenant.id}@hris-dev-drop`);
    const layout = tenantLayout(tenant);
    // The uploader is jailed to /<tenant>, so the inbox /<tenant>/inbox is "inbox" to it.
    const remoteInbox = layout.inbox.startsWith(`/${tenant.id}/`) ? layout.inbox.slice(tenant.id.length + 1) : layout.inbox;
    const key = displayPath(path.join(usersDir, tenant.id));
    accesses.push({
      user: tenant.id,
      keyFile: key,
      knownHostsFile: knownHosts,
      hostKeySha256,
      command: `sftp -P ${port} -i ${key} -o UserKnownHostsFile=${knownHosts} ${tenant.id}@127.0.0.1`,
      remoteInbox,
    });
  }
  return accesses;
}

/** Finds the sample file in the repository's fixtures/ (the working directory first, then the install). */
export async function findSampleFile(): Promise<string | undefined> {
  const installRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  for (const base of [process.cwd(), installRoot]) {
    const candidate = path.join(base, 'fixtures', SAMPLE_FILE_NAME);
    try {
      await access(candidate, constants.R_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/**
 * On first start (no marker under dataDir), copies the sample file into the example tenant's inbox
 * on the development drop. The copy lands under a temporary name and is renamed, as an upload would.
 */
export async function seedSampleFile(app: AppConfig, tenant: TenantConfig): Promise<{ seeded: string | null; reason?: string }> {
  const marker = path.join(path.resolve(app.dataDir), '.sample-seeded');
  try {
    await readFile(marker);
    return { seeded: null, reason: 'already placed on an earlier start' };
  } catch {
    // first start
  }
  const sample = await findSampleFile();
  if (!sample) return { seeded: null, reason: `fixtures/${SAMPLE_FILE_NAME} not found` };
  const inbox = devInboxDir(app, tenant);
  await mkdir(inbox, { recursive: true });
  const target = path.join(inbox, SAMPLE_FILE_NAME);
  await copyFile(sample, `${target}.part`);
  await rename(`${target}.part`, target);
  await writeFile(marker, `${new Date().toISOString()} ${SAMPLE_FILE_NAME}\n`);
  return { seeded: target };
}
