import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV_VARS } from '../src/config/app.js';
import { ensureBuilt } from './support/cli.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { freePort, logLines, startService, type Service } from './runtime.support.js';
import type { HealthReport } from '../src/web/health.js';

const TENANT = (segments: string[]) => `id: example\nname: Example\nallowedValues:\n  business_unit: [${segments.join(', ')}]\n`;
const FILE =
  'First Name,Last Name,Email Address,Employee ID,Status,Business Unit\n' +
  'Ann,One,ann@example.com,E1,active,Technology\nBob,Two,bob@example.com,E2,active,Sales\nCid,Three,cid@example.com,E3,active,Technology\n';

/**
 * Issue 10 defect 6, on the built daemon (`hris-ingest start`, development drop, a PostgreSQL server):
 * the runbook story (add a value to allowedValues, re-upload: accepted without a restart), a tenant
 * folder without config reported once and then picked up when its tenant file is added, a broken edit
 * that keeps the last good version and is reported once, and SIGHUP.
 */
describe('hris-ingest start: tenant config reload', () => {
  let dir: string;
  let db: TestDatabase;
  let service: Service | undefined;
  let env: NodeJS.ProcessEnv;
  let httpPort: number;
  const config = (...parts: string[]) => path.join(dir, 'config', ...parts);
  const inbox = (tenant: string) => path.join(dir, 'data', 'drop', tenant, 'inbox');
  const upload = async (tenant: string, name: string, text: string) => {
    await mkdir(inbox(tenant), { recursive: true });
    await writeFile(path.join(inbox(tenant), `.${name}.part`), text);
    await rename(path.join(inbox(tenant), `.${name}.part`), path.join(inbox(tenant), name));
  };
  const count = (pattern: RegExp) => (service!.stderr().match(new RegExp(pattern.source, 'g')) ?? []).length;

  beforeAll(async () => {
    ensureBuilt();
    db = await freshDatabase();
    dir = await mkdtemp(path.join(tmpdir(), 'hris-reload-'));
    await mkdir(config('tenants'), { recursive: true });
    await writeFile(config('app.yaml'), 'drop:\n  stableSeconds: 0\n');
    await writeFile(config('tenants', 'example.yaml'), TENANT(['Technology']));
    httpPort = await freePort();
    env = { ...process.env, NO_COLOR: '1' };
    for (const name of Object.keys(ENV_VARS)) delete env[name];
    Object.assign(env, {
      HRIS_CONFIG_DIR: config(),
      HRIS_DATA_DIR: path.join(dir, 'data'),
      DATABASE_URL: db.url,
      DROP_PORT: String(await freePort()),
      HTTP_PORT: String(httpPort),
      SCHEDULE_CRON: '*/2 * * * * *',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'debug',
    });
  });
  afterAll(async () => {
    if (service) await service.stop('SIGKILL');
    await db.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('picks up changed, added and broken tenant files without a restart, reports problems once, reloads on SIGHUP', { timeout: 240_000 }, async () => {
    service = startService({ cwd: dir, env, args: ['--no-sample'] });
    await service.waitFor(({ stdout }) => stdout.includes('Stop with Ctrl-C'), 'the start banner', 90_000);

    // The runbook: a new segment value is rejected ...
    await upload('example', 'Example - 01.13.2023.csv', FILE);
    await service.waitFor(({ stdout }) => /01\.13\.2023\.csv -> rejected/.test(stdout), 'the file with an unknown value to be rejected');
    // ... the value is added to allowedValues, the customer uploads again: accepted, no restart.
    await writeFile(config('tenants', 'example.yaml'), TENANT(['Technology', 'Sales']));
    await service.waitFor(({ stderr }) => /"changed":\["example"\][^\n]*"msg":"tenant config reloaded"/.test(stderr), 'the reload of the changed file');
    await upload('example', 'Example - 01.13.2023.csv', FILE);
    await service.waitFor(({ stdout }) => /01\.13\.2023\.csv -> accepted/.test(stdout), 'the re-upload to be accepted');

    // A folder on the drop with files and no tenant config: reported once, over several ticks.
    await upload('globex', 'Globex - 01.13.2023.csv', FILE.replace(/Sales/g, 'Technology'));
    await service.waitFor(() => count(/drop folder has files in its inbox but no tenant config/) > 0, 'the unconfigured folder report');
    const ticks = count(/"msg":"poll tick finished"/);
    await service.waitFor(() => count(/"msg":"poll tick finished"/) >= ticks + 2, 'two more ticks');
    expect(count(/drop folder has files in its inbox but no tenant config/)).toBe(1);
    let health = (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as HealthReport;
    expect(health).toMatchObject({ status: 'ok', details: { config: ['drop folder /globex: 1 file(s) in its inbox and no tenant config'] } });
    // Its tenant file is added: the file is taken on a later tick.
    await writeFile(config('tenants', 'globex.yaml'), 'id: globex\nname: Globex\n');
    await service.waitFor(({ stdout }) => /Globex - 01\.13\.2023\.csv -> accepted/.test(stdout), 'the new tenant file to be taken');

    // A broken edit: the last good version stays (a Sales file is still accepted), said once.
    await writeFile(config('tenants', 'example.yaml'), `${TENANT(['Technology', 'Sales'])}key: employee-number\n`);
    await service.waitFor(() => count(/tenant config file refused/) > 0, 'the broken file report');
    const after = count(/"msg":"poll tick finished"/);
    await service.waitFor(() => count(/"msg":"poll tick finished"/) >= after + 2, 'two more ticks');
    expect(count(/tenant config file refused/)).toBe(1);
    const refused = logLines(service.stderr()).find((l) => typeof l === 'object' && l.msg === 'tenant config file refused; the last good version stays in use') as Record<string, unknown>;
    expect(refused).toMatchObject({ level: 50, file: 'example.yaml', keptTenant: 'example' });
    await upload('example', 'Example - 01.14.2023.csv', FILE.replace('E3,active', 'E3,inactive'));
    await service.waitFor(({ stdout }) => /01\.14\.2023\.csv -> accepted/.test(stdout), 'a file under the last good version');
    health = (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as HealthReport;
    expect(health.status).toBe('ok');
    expect(health.details?.config).toEqual([expect.stringMatching(/^tenants\/example\.yaml: refused \(key: .*\); last good version of example in use$/)]);
    const alerts = await db.pool.query<{ payload: { problem: string } }>("select payload from outbox where kind = 'config_problem' order by id");
    expect(alerts.rows.map((r) => r.payload.problem)).toEqual(['unknown_drop_folder', 'tenant_file_broken']);

    // SIGHUP: a reload now (without a handler, SIGHUP would end the process).
    await writeFile(config('tenants', 'example.yaml'), TENANT(['Technology', 'Sales', 'Finance']));
    service.child.kill('SIGHUP');
    await service.waitFor(({ stderr }) => /"trigger":"SIGHUP"[^\n]*"msg":"tenant config reloaded"/.test(stderr), 'the SIGHUP reload');
    expect(service.child.exitCode).toBeNull();
    // The fixed file clears the details (the reload logs before it records what is broken: poll briefly).
    for (let i = 0; i < 20; i++) {
      health = (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as HealthReport;
      if (!health.details) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(health.details).toBeUndefined();
    expect(await service.stop('SIGTERM')).toBe(0);
    expect(await readFile(config('tenants', 'globex.yaml'), 'utf8')).toContain('globex');
    service = undefined;
  });
});

describe('hris-ingest poll (on schedule.cron): tenant config reload', () => {
  it('re-reads tenants/ before each tick and on SIGHUP, as start does (SIGHUP ended it; added files were never polled); poll --once reports a broken file once', { timeout: 120_000 }, async () => {
    const db = await freshDatabase();
    const dir = await mkdtemp(path.join(tmpdir(), 'hris-poll-reload-'));
    let service: Service | undefined;
    try {
      await mkdir(path.join(dir, 'config', 'tenants'), { recursive: true });
      await writeFile(path.join(dir, 'config', 'tenants', 'example.yaml'), TENANT(['Technology']));
      const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
      for (const name of Object.keys(ENV_VARS)) delete env[name];
      Object.assign(env, {
        HRIS_CONFIG_DIR: path.join(dir, 'config'),
        HRIS_DATA_DIR: path.join(dir, 'data'),
        DATABASE_URL: db.url,
        DROP_PORT: String(await freePort()), // nothing listens: each tick finds the drop unreachable, after its reload
        SCHEDULE_CRON: '*/2 * * * * *',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'debug',
      });
      service = startService({ cwd: dir, env, command: 'poll' });
      const reloads = () => logLines(service!.stderr()).filter((l) => typeof l === 'object' && l.msg === 'tenant config reloaded') as Array<Record<string, unknown>>;
      await service.waitFor(({ stderr }) => stderr.includes('drop poller scheduled'), 'the poller to start', 60_000);
      await writeFile(path.join(dir, 'config', 'tenants', 'globex.yaml'), 'id: globex\nname: Globex\n');
      await service.waitFor(() => reloads().some((l) => JSON.stringify(l.added) === '["globex"]'), 'the added tenant file to be read', 60_000);
      await writeFile(path.join(dir, 'config', 'tenants', 'globex.yaml'), 'id: globex\nname: Globex\nkey: nope\n');
      await service.waitFor(({ stderr }) => stderr.includes('tenant config file refused'), 'the broken file report', 60_000);
      service.child.kill('SIGHUP');
      await service.waitFor(() => reloads().some((l) => l.trigger === 'SIGHUP'), 'the SIGHUP reload', 30_000);
      expect(service.child.exitCode).toBeNull();
      expect(await service.stop('SIGTERM')).toBe(0);
      service = undefined;

      // poll --once (a cron deployment) reports the broken file as the daemon does: one alert per broken version
      const { runCli } = await import('./support/cli.js');
      await writeFile(path.join(dir, 'config', 'tenants', 'globex.yaml'), 'id: globex\nname: Globex\nkey: other\n');
      for (let run = 0; run < 2; run++) {
        const once = await runCli(['poll', '--once'], { cwd: dir, env });
        expect(once.code).toBe(1); // the drop is unreachable
        expect(once.stderr).toContain('warning: tenants/globex.yaml is not used');
      }
      const problems = await db.pool.query<{ payload: { problem: string; file: string } }>("select payload from outbox where kind = 'config_problem' order by id");
      expect(problems.rows.map((r) => [r.payload.problem, r.payload.file])).toEqual([
        ['tenant_file_broken', 'globex.yaml'],
        ['tenant_file_broken', 'globex.yaml'],
      ]);
    } finally {
      if (service) await service.stop('SIGKILL');
      await db.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
