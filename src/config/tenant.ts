import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { expectSchema } from './cadence.js';
import { ConfigError } from './errors.js';
import { pgpConfigSchema } from './pgp.js';
import { FIELD_BY_NAME } from '../fields/fields.js';

export const KEY_MODES = ['employee_id', 'email', 'auto'] as const;
export type KeyMode = (typeof KEY_MODES)[number];

export const guardrailsSchema = z
  .object({
    /** Hold when a run would delete more than this share of on-platform members ... */
    maxDeletePercent: z.number().min(0).max(100).default(10),
    /** ... and more than this many of them. */
    maxDeleteCount: z.number().int().min(0).default(25),
    /** Hold when the row count dropped by more than this share against the last accepted file. */
    maxShrinkPercent: z.number().min(0).max(100).default(20),
    /** Hold an empty file (header only). */
    holdEmptyFile: z.boolean().default(true),
  })
  .strict();
export type Guardrails = z.infer<typeof guardrailsSchema>;

const dropLayoutSchema = z
  .object({
    /** Remote inbox folder; default /<tenant id>/inbox. processed/ and rejected/ sit beside it. */
    inbox: z.string().startsWith('/', 'must be an absolute remote path such as /acme/inbox').optional(),
    processed: z.string().startsWith('/').optional(),
    rejected: z.string().startsWith('/').optional(),
  })
  .strict();

export const tenantConfigSchema = z
  .object({
    // Bounded like any text shown in Slack and the console; the id also names folders and output files.
    id: z
      .string()
      .max(64, 'at most 64 characters')
      .regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, "-" or "_", e.g. "acme"'),
    name: z.string().min(1).max(120, 'at most 120 characters'),
    /** Customer header -> canonical field (or custom segment column). */
    columns: z.record(z.string(), z.string()).default({}),
    /** Extra segment columns this tenant declares (canonical names, lower snake case). */
    customSegments: z.array(z.string().regex(/^[a-z][a-z0-9_]*$/, 'lower snake case, e.g. "cost_center"')).default([]),
    /** The data-mapping table: allowed values per field. */
    allowedValues: z.record(z.string(), z.array(z.string())).default({}),
    /** A CSV export of the data-mapping worksheet (field, value, visibility), relative to the tenant file. */
    allowedValuesFile: z.string().optional(),
    key: z.enum(KEY_MODES).default('auto'),
    invalidRows: z.enum(['reject', 'skip']).default('reject'),
    guardrails: guardrailsSchema.default(guardrailsSchema.parse({})),
    /** Slack channel (id or #name) for this tenant's alerts; default the app's channel. */
    slackChannel: z.string().optional(),
    /** Post a note for duplicate files. */
    notifyDuplicates: z.boolean().default(true),
    drop: dropLayoutSchema.default({}),
    /** The agreed file cadence, watched for late and missing files (absent = not watched). */
    expect: expectSchema.optional(),
    /** OpenPGP-encrypted files (src/config/pgp.ts). */
    pgp: pgpConfigSchema.optional(),
  })
  .strict();
export type TenantConfig = z.infer<typeof tenantConfigSchema>;

/** A tenant with only an id (preview of a sample before the tenant is configured). */
export function defaultTenant(id = 'preview'): TenantConfig {
  return tenantConfigSchema.parse({ id, name: id });
}

export async function loadTenantFile(file: string): Promise<TenantConfig> {
  let raw: unknown;
  try {
    raw = parseYaml(await readFile(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(file, [{ path: '', message: `not readable YAML: ${(error as Error).message}` }]);
  }
  const parsed = tenantConfigSchema.safeParse(raw);
  if (!parsed.success) throw ConfigError.fromZod(file, parsed.error);
  const tenant = parsed.data;
  const expected = path.basename(file).replace(/\.ya?ml$/i, '');
  if (tenant.id !== expected) {
    throw new ConfigError(file, [{ path: 'id', message: `must equal the file name "${expected}"` }]);
  }
  if (tenant.pgp) {
    const here = path.dirname(file);
    tenant.pgp.privateKeyFile = path.resolve(here, tenant.pgp.privateKeyFile);
    if (tenant.pgp.signerPublicKeyFile) tenant.pgp.signerPublicKeyFile = path.resolve(here, tenant.pgp.signerPublicKeyFile);
  }
  if (tenant.allowedValuesFile) {
    const { loadAllowedValuesCsv } = await import('./allowed-values.js');
    const fromCsv = await loadAllowedValuesCsv(path.resolve(path.dirname(file), tenant.allowedValuesFile));
    for (const [field, values] of Object.entries(fromCsv)) {
      tenant.allowedValues[field] = [...new Set([...(tenant.allowedValues[field] ?? []), ...values])];
    }
  }
  return tenant;
}

/** A tenant's inbox on the drop, normalised: its drop.inbox, default /<tenant id>/inbox. */
export function tenantInbox(tenant: TenantConfig): string {
  return path.posix.normalize(tenant.drop.inbox ?? `/${tenant.id}/inbox`).replace(/(.)\/$/, '$1');
}

/** Every tenant under DIR/tenants/*.yaml, keyed by id. */
export async function loadTenants(configDir: string): Promise<Map<string, TenantConfig>> {
  const dir = path.join(configDir, 'tenants');
  let names: string[] = [];
  try {
    names = (await readdir(dir)).filter((n) => /\.ya?ml$/i.test(n)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const tenants = new Map<string, TenantConfig>();
  for (const name of names) {
    const tenant = await loadTenantFile(path.join(dir, name));
    tenants.set(tenant.id, tenant);
  }
  return tenants;
}

/**
 * The tenant's `columns` entries whose target is neither a field of the spec nor a declared custom segment
 * (nor "", ignore): read as custom segments with a warning on every file, and most likely a typo
 * ("Email Address: emale" leaves every file without its email column). For `config check`.
 */
export function undeclaredColumnTargets(tenant: Pick<TenantConfig, 'columns' | 'customSegments'>): string[] {
  return Object.entries(tenant.columns)
    .filter(([, target]) => target.trim() !== '' && !FIELD_BY_NAME.has(target.trim()) && !tenant.customSegments.includes(target.trim()))
    .map(([header, target]) => `"${header}" -> "${target}"`);
}
