import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from './errors.js';
import { loadTenantFile, tenantInbox, type TenantConfig } from './tenant.js';

/** A tenant file that could not be used: its last good version (if any) stays in use. */
export interface BrokenTenantFile {
  /** File name under tenants/, e.g. "acme.yaml". */
  file: string;
  /**
   * sha256 of its bytes and of the error: a version is reported once (src/runtime/config-reload.ts). The
   * error is in it because the YAML's bytes are not all of a version: its allowedValuesFile broken another
   * way, under the same YAML, is a new problem to report.
   */
  version: string;
  error: string;
  /** The tenant whose last good version is kept (absent: nothing loaded for this file). */
  keptTenant?: string;
}

export interface ReloadResult {
  added: string[];
  changed: string[];
  removed: string[];
  broken: BrokenTenantFile[];
}

const TENANT_FILE = /\.ya?ml$/i;

/** The tenant id a file under tenants/ names ("acme.yaml", "acme.yml" -> "acme"). */
export function tenantIdOfFile(name: string): string {
  return name.replace(TENANT_FILE, '');
}

/**
 * One line (a YAML error quotes the file's lines): for logs, alerts, /healthz and `config check`. A problem
 * of another file than TENANT_FILE (its allowedValuesFile) names that file: its line numbers are that file's.
 */
function describe(error: unknown, tenantFile?: string): string {
  let text = (error as Error).message;
  if (error instanceof ConfigError) {
    text = error.problems.map((p) => `${p.path || '(top level)'}: ${p.message}`).join('; ');
    if (tenantFile && path.resolve(error.file) !== path.resolve(tenantFile)) text = `allowedValuesFile ${path.basename(error.file)}: ${text}`;
  }
  return text.replace(/\s*\n\s*/g, '; ');
}

/**
 * The tenants in effect, read from DIR/tenants/ at start and on demand (each poll tick, SIGHUP). TENANTS
 * is one live Map, changed in place, so whoever holds it (poller, alert delivery) sees the reload without
 * being told. Every file is validated before it replaces anything; a broken file keeps its tenant's last
 * good version (none at start: the tenant is left out, the others run); a removed file removes its tenant.
 * Refused as broken too: two files for one tenant id (acme.yaml and a stale acme.yml: which one would win
 * is an accident of sorting), and tenants sharing an inbox (one customer's file would be ingested into
 * both, the other tenant's members then deleted).
 */
export class TenantRegistry {
  readonly tenants: Map<string, TenantConfig>;
  /** The broken files as of the last reload. */
  broken: BrokenTenantFile[] = [];
  private readonly dir: string;
  /**
   * The last version of each file that loaded, by file name, with the bytes it was loaded from: a file
   * whose bytes (and allowedValuesFile's) are unchanged is not parsed again. A reload runs on every poll
   * tick, and parsing a 4.9 MB tenant file with 200k allowed values took about 3 s, blocking the process.
   */
  private readonly parsed = new Map<string, { sha256: string; valuesFile: { file: string; sha256: string } | null; tenant: TenantConfig }>();

  constructor(
    configDir: string,
    initial: Map<string, TenantConfig> = new Map(),
    private readonly loadFile: (file: string) => Promise<TenantConfig> = loadTenantFile,
  ) {
    this.dir = path.join(configDir, 'tenants');
    this.tenants = initial;
  }

  /** NAME's tenant: the version loaded last when its bytes are the same, else parsed and validated. */
  private async load(name: string): Promise<TenantConfig> {
    const file = path.join(this.dir, name);
    const sha256 = await sha256Of(file);
    const last = this.parsed.get(name);
    // The values file's hash is taken before the parse that reads it: taken after, a file replaced during
    // the ~3 s parse of a big one was recorded with its new hash and its old values, and never read again.
    const valuesBefore = last?.valuesFile ? await sha256Of(last.valuesFile.file).catch(() => '') : null;
    if (last && last.sha256 === sha256 && (!last.valuesFile || valuesBefore === last.valuesFile.sha256)) return last.tenant;
    const tenant = await this.loadFile(file);
    const values = tenant.allowedValuesFile ? path.resolve(this.dir, tenant.allowedValuesFile) : null;
    // A file named for the first time is hashed after its parse: its path is known only then.
    const valuesFile = values === null ? null : { file: values, sha256: values === last?.valuesFile?.file ? valuesBefore! : await sha256Of(values) };
    this.parsed.set(name, { sha256, valuesFile, tenant });
    return tenant;
  }

  async reload(): Promise<ReloadResult> {
    const result: ReloadResult = { added: [], changed: [], removed: [], broken: [] };
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => TENANT_FILE.test(n)).sort();
    } catch (error) {
      // A missing or unreadable folder (an unmounted volume) is not "every tenant removed": keep them all.
      result.broken.push({ file: 'tenants/', version: 'unreadable', error: `the folder ${this.dir} cannot be read: ${describe(error)}` });
      this.broken = result.broken;
      return result;
    }
    const seen = new Set<string>();
    for (const name of this.parsed.keys()) if (!names.includes(name)) this.parsed.delete(name);
    const refuse = async (name: string, id: string, error: string) => {
      const bytes = await sha256Of(path.join(this.dir, name)).catch(() => 'unreadable');
      const version = createHash('sha256').update(`${bytes}\n${error}`).digest('hex');
      result.broken.push({ file: name, version, error, ...(this.tenants.has(id) ? { keptTenant: id } : {}) });
    };
    const loaded = new Map<string, { name: string; tenant: TenantConfig }>();
    for (const name of names) {
      const id = tenantIdOfFile(name);
      seen.add(id);
      const twins = names.filter((other) => tenantIdOfFile(other) === id);
      if (twins.length > 1) {
        await refuse(name, id, `${twins.join(' and ')} are both tenant "${id}": remove the one not meant`);
        continue;
      }
      try {
        loaded.set(id, { name, tenant: await this.load(name) });
      } catch (error) {
        await refuse(name, id, describe(error, path.join(this.dir, name)));
      }
    }
    for (const [inbox, ids] of sharedInboxes(loaded)) {
      for (const id of ids) {
        await refuse(loaded.get(id)!.name, id, `tenants ${ids.join(' and ')} share the inbox ${inbox}: each inbox belongs to one tenant (drop.inbox)`);
        loaded.delete(id);
      }
    }
    for (const [id, { tenant }] of loaded) {
      const current = this.tenants.get(id);
      if (current === tenant) continue;
      if (!current) result.added.push(id);
      // An equal copy (the map this registry started from was loaded apart) is adopted silently, so that
      // the next reloads compare by identity instead of serialising both copies of a big tenant each tick.
      else if (JSON.stringify(current) !== JSON.stringify(tenant)) result.changed.push(id);
      this.tenants.set(id, tenant);
    }
    for (const id of [...this.tenants.keys()]) {
      if (!seen.has(id)) {
        this.tenants.delete(id);
        result.removed.push(id);
      }
    }
    this.broken = result.broken;
    return result;
  }
}

async function sha256Of(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

/** Inboxes named by more than one of the TENANTS, with their ids. */
function sharedInboxes(tenants: Map<string, { tenant: TenantConfig }>): Map<string, string[]> {
  const byInbox = new Map<string, string[]>();
  for (const [id, { tenant }] of tenants) {
    const inbox = tenantInbox(tenant);
    byInbox.set(inbox, [...(byInbox.get(inbox) ?? []), id]);
  }
  return new Map([...byInbox].filter(([, ids]) => ids.length > 1));
}
