import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ConfigError } from '../src/config/errors.js';
import { defaultTenant, loadTenantFile, loadTenants } from '../src/config/tenant.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tenant-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function tenantFile(name: string, yaml: string): string {
  const target = path.join(dir, name);
  writeFileSync(target, yaml);
  return target;
}
async function configError(file: string): Promise<ConfigError> {
  const error = await loadTenantFile(file).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('loadTenantFile', () => {
  test('reads a full tenant with defaults filled in', async () => {
    const tenant = await loadTenantFile(path.resolve(import.meta.dirname, '../fixtures/tenants/mapped.yaml'));
    expect(tenant).toMatchObject({
      id: 'mapped',
      columns: { 'Work Mail': 'email' },
      customSegments: ['cost_center'],
      key: 'auto',
      invalidRows: 'reject',
      guardrails: { maxDeletePercent: 10, maxDeleteCount: 25, maxShrinkPercent: 20, holdEmptyFile: true },
    });
  });

  test('merges the worksheet CSV into allowedValues, relative to the tenant file', async () => {
    const tenant = await loadTenantFile(path.resolve(import.meta.dirname, '../fixtures/tenants/segments.yaml'));
    expect(tenant.allowedValues.job_function).toEqual(['Engineering', 'Finance', 'Human Resources', 'Sales']);
    expect(tenant.allowedValues.business_unit).toEqual(['Technology', 'Corporate Services', 'People & Culture']);
  });

  test('a wrong type names the file, the path and what is expected', async () => {
    const file = tenantFile('acme.yaml', 'id: acme\nname: Acme\nguardrails:\n  maxDeletePercent: "ten"\n');
    const error = await configError(file);
    expect(error.file).toBe(file);
    expect(error.problems[0]!.path).toBe('guardrails.maxDeletePercent');
    expect(error.message).toContain(`invalid configuration in ${file}`);
    expect(error.message).toMatch(/guardrails\.maxDeletePercent: .*number/);
  });

  test('an unknown key, a bad enum and a bad segment name are each named', async () => {
    const file = tenantFile('beta.yaml', 'id: beta\nname: Beta\ninvalidRows: ignore\ncustomSegments: ["Cost Center"]\nslackChanel: "#x"\n');
    const error = await configError(file);
    const paths = error.problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['invalidRows', 'customSegments.0', '']));
    expect(error.problems.find((p) => p.path === 'customSegments.0')!.message).toContain('lower snake case, e.g. "cost_center"');
    expect(error.problems.find((p) => p.path === '')!.message).toContain('slackChanel');
  });

  test('an id over 64 characters and a name over 120 are refused (they name folders and files, and show in Slack and the console)', async () => {
    const id = 'a'.repeat(65);
    const error = await configError(tenantFile(`${id}.yaml`, `id: ${id}\nname: ${'N'.repeat(121)}\n`));
    expect(error.problems.map((p) => p.path).sort()).toEqual(['id', 'name']);
    expect(error.problems.find((p) => p.path === 'id')!.message).toContain('at most 64 characters');
    expect(error.problems.find((p) => p.path === 'name')!.message).toContain('at most 120 characters');
    const ok = await loadTenantFile(tenantFile(`${'a'.repeat(64)}.yaml`, `id: ${'a'.repeat(64)}\nname: ${'N'.repeat(120)}\n`));
    expect(ok.name).toHaveLength(120);
  });

  test('the id must equal the file name', async () => {
    const error = await configError(tenantFile('gamma.yaml', 'id: delta\nname: Gamma\n'));
    expect(error.problems).toEqual([{ path: 'id', message: 'must equal the file name "gamma"' }]);
  });

  test('unreadable YAML names the file', async () => {
    const file = tenantFile('broken.yaml', 'id: broken\nname: [unclosed\n');
    const error = await configError(file);
    expect(error.message).toContain(file);
    expect(error.problems[0]!.message).toContain('not readable YAML');
  });

  test('a bad worksheet path is reported against the worksheet file', async () => {
    const file = tenantFile('eps.yaml', 'id: eps\nname: Eps\nallowedValuesFile: missing-worksheet.csv\n');
    const error = await configError(file);
    expect(error.file).toBe(path.join(dir, 'missing-worksheet.csv'));
  });
});

describe('loadTenants and defaultTenant', () => {
  test('loads every tenant of config/tenants keyed by id', async () => {
    const configDir = mkdtempSync(path.join(dir, 'cfg-'));
    mkdirSync(path.join(configDir, 'tenants'));
    writeFileSync(path.join(configDir, 'tenants', 'one.yaml'), 'id: one\nname: One\n');
    writeFileSync(path.join(configDir, 'tenants', 'two.yml'), 'id: two\nname: Two\nkey: email\n');
    writeFileSync(path.join(configDir, 'tenants', 'notes.txt'), 'ignored');
    const tenants = await loadTenants(configDir);
    expect([...tenants.keys()]).toEqual(['one', 'two']);
    expect(tenants.get('two')!.key).toBe('email');
    expect((await loadTenants(path.join(dir, 'no-such-dir'))).size).toBe(0);
  });

  test('defaultTenant has no mapping and no allowed values', () => {
    expect(defaultTenant('x')).toMatchObject({ id: 'x', columns: {}, customSegments: [], allowedValues: {} });
  });
});
