import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantConfigSchema } from '../src/config/tenant.js';
import { ingestFile } from '../src/pipeline.js';
import { csvOf, fileOf, range } from './pipeline.support.js';
import { cliSandbox, ensureBuilt, type CliSandbox } from './support/cli.js';
import { freshDatabase, type TestDatabase } from './support/db.js';

const DAY = 86_400_000;

describe('hris-ingest tenants and config check (late-file watch)', () => {
  let db: TestDatabase;
  let sandbox: CliSandbox;

  beforeAll(async () => {
    ensureBuilt();
    db = await freshDatabase();
    sandbox = await cliSandbox({
      databaseUrl: db.url,
      tenants: [
        { id: 'acme', name: 'Acme Corp', expect: { every: '7 days', graceHours: 48 } },
        { id: 'beta', name: 'Beta Inc', expect: { every: '1 month', graceHours: 24, remind: false } },
        { id: 'plain', name: 'Plain' },
      ],
    });
  });
  afterAll(async () => {
    await sandbox?.dispose();
    await db?.dispose();
  });

  it('`tenants --json` prints exactly one object with every tenant, late or not', async () => {
    const acme = tenantConfigSchema.parse({ id: 'acme', name: 'Acme Corp', expect: { every: '7 days' } });
    const run = await ingestFile({ db }, acme, fileOf('acme - 01.13.2026.csv', csvOf(range(1, 3))));
    const arrived = (await db.pool.query<{ created_at: Date }>('select created_at from runs where id = $1', [run.runId])).rows[0]!.created_at;
    // beta was first watched on the 15th two months ago and never sent a file: due on the 15th last month.
    const today = new Date();
    const seen = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 2, 15, 9));
    const due = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1, 15, 9));
    await db.pool.query(`insert into late_watch_tenants (tenant_id, first_seen_at) values ('beta', $1)`, [seen]);

    const result = await sandbox.run('tenants', '--json');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trimEnd().split('\n')).toHaveLength(1);
    const out = result.json();
    expect(Object.keys(out)).toEqual(['tenants']);
    const byId = new Map((out.tenants as Array<Record<string, unknown>>).map((t) => [t.id, t]));
    expect(byId.get('acme')).toEqual({
      id: 'acme',
      name: 'Acme Corp',
      cadence: '7 days',
      lastFile: 'acme - 01.13.2026.csv',
      lastFileAt: arrived.toISOString(),
      nextExpectedAt: new Date(Math.floor(arrived.getTime()) + 7 * DAY).toISOString(),
      late: false,
      lateBySeconds: 0,
    });
    const beta = byId.get('beta')!;
    expect(beta).toMatchObject({ cadence: '1 month', lastFile: null, lastFileAt: null, late: true });
    expect(beta.nextExpectedAt).toBe(due.toISOString());
    expect(Math.abs((beta.lateBySeconds as number) - (Date.now() - due.getTime()) / 1000)).toBeLessThan(120);
    expect(byId.get('plain')).toEqual({ id: 'plain', name: 'Plain', cadence: null, lastFile: null, lastFileAt: null, nextExpectedAt: null, late: false, lateBySeconds: 0 });

    const human = await sandbox.run('tenants');
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('beta (Beta Inc): LATE by');
    expect(human.stdout).toContain('acme (Acme Corp): on time');
    expect(human.stdout).toContain('plain (Plain): not watched');
  });

  it('`config check` fails on an invalid cadence, naming the file and the path', async () => {
    await sandbox.writeTenant({ id: 'gamma', name: 'Gamma', expect: { every: 'fortnightly' } });
    await sandbox.writeTenant({ id: 'delta', name: 'Delta', expect: { every: '0 25 * * *', graceHours: 12 } });
    try {
      const result = await sandbox.run('config', 'check');
      expect(result.code).toBe(1);
      const file = (id: string) => path.join(sandbox.configDir, 'tenants', `${id}.yaml`);
      expect(result.stdout).toContain(`tenant gamma: FAIL: ${file('gamma')}: expect.every: "fortnightly" is not a cadence: use an interval such as "1 month"`);
      expect(result.stdout).toContain(`tenant delta: FAIL: ${file('delta')}: expect.every: "0 25 * * *" is not a valid cron expression: hour: 25 is outside 0-23`);
      expect(result.stdout).toMatch(/^tenant acme: ok/m);
      // The daemon and every other command refuse the file too, and go on with the other tenants.
      const tenants = await sandbox.run('tenants');
      expect(tenants.code).toBe(0);
      expect(tenants.stderr).toContain('warning: tenants/delta.yaml is not used');
      expect(tenants.stdout).toContain('acme (Acme Corp)');
      expect(tenants.stdout).not.toContain('delta');
    } finally {
      await import('node:fs/promises').then((fs) => Promise.all(['gamma', 'delta'].map((id) => fs.rm(path.join(sandbox.configDir, 'tenants', `${id}.yaml`)))));
    }
  });
});
