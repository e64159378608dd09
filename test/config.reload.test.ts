import { mkdtemp, mkdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TenantRegistry } from '../src/config/reload.js';
import { loadTenantFile, loadTenants } from '../src/config/tenant.js';
import { createLogger } from '../src/log.js';
import { configProblemMessage } from '../src/notify/engine-messages.js';
import { configProblemLines, reloadTenants } from '../src/runtime/config-reload.js';
import { healthReport } from '../src/web/health.js';
import { freshDatabase, type TestDatabase } from './support/db.js';

function captured() {
  const lines: Array<{ level: number; msg: string; file?: string }> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger({ level: 'info', format: 'json', destination }), lines };
}

describe('tenant config reload (issue 10 defect 6)', () => {
  let dir: string;
  let db: TestDatabase;
  const tenantFile = (id: string, body: string) => writeFile(path.join(dir, 'tenants', `${id}.yaml`), body);
  const alerts = async () =>
    (await db.pool.query<{ payload: Record<string, unknown> }>("select payload from outbox where kind = 'config_problem' order by id")).rows.map((r) => r.payload);

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'reload-'));
    await mkdir(path.join(dir, 'tenants'));
    await tenantFile('acme', 'id: acme\nname: Acme\nallowedValues:\n  segment: [North]\n');
    db = await freshDatabase();
  });
  afterEach(async () => {
    await db.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('picks up added, changed and removed files in the same live map; a broken edit keeps the last good version', async () => {
    const tenants = await loadTenants(dir);
    const registry = new TenantRegistry(dir, tenants);
    expect(await registry.reload()).toEqual({ added: [], changed: [], removed: [], broken: [] });

    await tenantFile('acme', 'id: acme\nname: Acme\nallowedValues:\n  segment: [North, South]\n');
    await tenantFile('globex', 'id: globex\nname: Globex\n');
    expect(await registry.reload()).toEqual({ added: ['globex'], changed: ['acme'], removed: [], broken: [] });
    expect(tenants.get('acme')!.allowedValues.segment).toEqual(['North', 'South']);
    expect(registry.tenants).toBe(tenants);

    await tenantFile('acme', 'id: acme\nname: Acme\nkey: employee-number\n');
    const broken = await registry.reload();
    expect(broken.broken).toEqual([{ file: 'acme.yaml', version: expect.stringMatching(/^[0-9a-f]{64}$/), error: expect.stringContaining('key'), keptTenant: 'acme' }]);
    expect(tenants.get('acme')!.allowedValues.segment).toEqual(['North', 'South']);

    await unlink(path.join(dir, 'tenants', 'globex.yaml'));
    expect((await registry.reload()).removed).toEqual(['globex']);
    expect([...tenants.keys()]).toEqual(['acme']);
  });

  it('says so once per broken version: one error log line and one alert, again for a new broken version; /healthz details', async () => {
    const registry = new TenantRegistry(dir, await loadTenants(dir));
    const { logger, lines } = captured();
    await tenantFile('acme', 'id: acme\nname: [unclosed\n');
    for (let tick = 0; tick < 3; tick++) await reloadTenants(registry, db, logger, 'tick');
    // a second replica sees the same version: still once
    await reloadTenants(new TenantRegistry(dir, await loadTenants(dir).catch(() => new Map())), db, logger, 'tick');
    const errors = lines.filter((l) => l.level === 50);
    expect(errors.map((l) => [l.msg, l.file])).toEqual([['tenant config file refused; the last good version stays in use', 'acme.yaml']]);
    expect(await alerts()).toEqual([{ problem: 'tenant_file_broken', file: 'acme.yaml', error: expect.stringContaining('not readable YAML'), keptTenant: 'acme' }]);
    expect(registry.tenants.get('acme')!.name).toBe('Acme');

    await tenantFile('acme', 'id: acme\nname: Acme\nunknownKey: 1\n');
    await reloadTenants(registry, db, logger, 'SIGHUP');
    expect(lines.filter((l) => l.level === 50)).toHaveLength(2);
    expect(await alerts()).toHaveLength(2);

    const lines2 = configProblemLines(registry, [{ folder: '/initech', files: 2 }]);
    expect(lines2).toEqual([
      expect.stringMatching(/^tenants\/acme\.yaml: refused \(.*unknownKey.*\); last good version of acme in use$/),
      'drop folder /initech: 2 file(s) in its inbox and no tenant config',
    ]);
    const health = await healthReport(db.pool, { startedAt: new Date(), configProblems: lines2 }, { maxTickAgeSeconds: 60 });
    expect(health).toMatchObject({ status: 'ok', details: { config: lines2 } });

    // fixed: nothing more to say
    await tenantFile('acme', 'id: acme\nname: Acme Corp\n');
    expect((await reloadTenants(registry, db, logger, 'tick')).changed).toEqual(['acme']);
    expect(configProblemLines(registry)).toEqual([]);
  });

  it('the alert escapes and bounds the file name and the error', () => {
    const message = configProblemMessage({ problem: 'tenant_file_broken', file: '<!channel>.yaml', error: `x${'y'.repeat(5000)}` });
    expect(message.text).not.toContain('<!channel>');
    expect(message.text.length).toBeLessThan(700);
    for (const block of message.blocks) expect(JSON.stringify(block).length).toBeLessThan(3000);
    const folder = configProblemMessage({ problem: 'unknown_drop_folder', folder: '/<@U123>', files: 3 });
    expect(folder.text).toContain('&lt;@U123&gt;');
  });

  it('parses a file again only when its bytes or its allowedValuesFile changed', async () => {
    const parsed: string[] = [];
    const registry = new TenantRegistry(dir, new Map(), (file) => {
      parsed.push(path.basename(file));
      return loadTenantFile(file);
    });
    await writeFile(path.join(dir, 'tenants', 'segments.csv'), 'field,value\nsegment,East\n');
    await tenantFile('globex', 'id: globex\nname: Globex\nallowedValuesFile: segments.csv\n');
    await registry.reload();
    expect(parsed.sort()).toEqual(['acme.yaml', 'globex.yaml']);
    expect(await registry.reload()).toEqual({ added: [], changed: [], removed: [], broken: [] });
    expect(parsed).toHaveLength(2); // nothing changed: nothing parsed

    await writeFile(path.join(dir, 'tenants', 'segments.csv'), 'field,value\nsegment,East\nsegment,West\n');
    expect((await registry.reload()).changed).toEqual(['globex']);
    expect(registry.tenants.get('globex')!.allowedValues.segment).toEqual(['East', 'West']);
    await tenantFile('acme', 'id: acme\nname: Acme Corp\nallowedValues:\n  segment: [North]\n');
    expect((await registry.reload()).changed).toEqual(['acme']);
    expect(parsed.slice(2)).toEqual(['globex.yaml', 'acme.yaml']);

    // a broken edit, then the last good bytes again: back to the version in use, without a parse
    await tenantFile('acme', 'id: acme\nname: [\n');
    expect((await registry.reload()).broken.map((b) => b.file)).toEqual(['acme.yaml']);
    await tenantFile('acme', 'id: acme\nname: Acme Corp\nallowedValues:\n  segment: [North]\n');
    expect(await registry.reload()).toEqual({ added: [], changed: [], removed: [], broken: [] });
    expect(parsed.slice(4)).toEqual(['acme.yaml']); // the broken version only
    expect(registry.tenants.get('acme')!.name).toBe('Acme Corp');
  });

  it('a registry started from a map loaded apart compares its tenants once, then by identity', async () => {
    const registry = new TenantRegistry(dir, await loadTenants(dir));
    expect(await registry.reload()).toEqual({ added: [], changed: [], removed: [], broken: [] });
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      expect(await registry.reload()).toEqual({ added: [], changed: [], removed: [], broken: [] });
      expect(stringify).not.toHaveBeenCalled();
    } finally {
      stringify.mockRestore();
    }
  });

  it('a values file replaced while its tenant is parsed is read again on the next reload', async () => {
    const values = path.join(dir, 'tenants', 'segments.csv');
    let replaceDuringParse = false;
    const registry = new TenantRegistry(dir, new Map(), async (file) => {
      const tenant = await loadTenantFile(file);
      // the operator's new version lands after the parse read the old one
      if (replaceDuringParse && file.endsWith('globex.yaml')) await writeFile(values, 'field,value\nsegment,East\nsegment,West\nsegment,North\n');
      return tenant;
    });
    await writeFile(values, 'field,value\nsegment,East\n');
    await tenantFile('globex', 'id: globex\nname: Globex\nallowedValuesFile: segments.csv\n');
    await registry.reload();
    await writeFile(values, 'field,value\nsegment,East\nsegment,West\n');
    replaceDuringParse = true;
    await registry.reload();
    expect(registry.tenants.get('globex')!.allowedValues.segment).toEqual(['East', 'West']); // what the parse read
    replaceDuringParse = false;
    expect((await registry.reload()).changed).toEqual(['globex']);
    expect(registry.tenants.get('globex')!.allowedValues.segment).toEqual(['East', 'West', 'North']);
  });

  it('an allowedValuesFile broken another way under the same YAML is a new version: reported again; the same break again is not', async () => {
    const values = (body: string) => writeFile(path.join(dir, 'tenants', 'segments.csv'), body);
    await values('field,value\nsegment,East\n');
    await tenantFile('globex', 'id: globex\nname: Globex\nallowedValuesFile: segments.csv\n');
    const registry = new TenantRegistry(dir, await loadTenants(dir));
    const { logger, lines } = captured();
    const errors = () => lines.filter((l) => l.level === 50);
    await values('field,value,visibility\nsegment,East,secret\n');
    await reloadTenants(registry, db, logger, 'tick');
    await values('field,value\nsegment,East\n');
    await reloadTenants(registry, db, logger, 'tick');
    await values('foo,bar\nsegment,East\n');
    await reloadTenants(registry, db, logger, 'tick');
    await reloadTenants(registry, db, logger, 'tick');
    expect(errors().map((l) => l.file)).toEqual(['globex.yaml', 'globex.yaml']);
    expect((await alerts()).map((a) => a.file)).toEqual(['globex.yaml', 'globex.yaml']);
    // the values file's problems name it (their line numbers are its own), not only the YAML
    expect((await alerts()).map((a) => a.error)).toEqual([expect.stringMatching(/^allowedValuesFile segments\.csv: /), expect.stringMatching(/^allowedValuesFile segments\.csv: /)]);
    expect(errors().map((l) => l.msg)).toEqual(Array(2).fill('tenant config file refused; the last good version stays in use'));
  });

  it('a file refused at start says its tenant is not loaded (no last good version); a removed tenant\'s late watch starts over when it comes back', async () => {
    await tenantFile('zeta', 'id: zeta\nname: Zeta\nkey: bogus\n');
    const registry = new TenantRegistry(dir);
    const { logger, lines } = captured();
    await reloadTenants(registry, db, logger, 'tick');
    expect(lines.filter((l) => l.level === 50).map((l) => [l.file, l.msg])).toEqual([['zeta.yaml', 'tenant config file refused; its tenant is not loaded until it is fixed']]);

    await db.pool.query(`insert into late_watch_tenants (tenant_id, first_seen_at) values ('acme', now() - interval '90 days'), ('other', now() - interval '90 days')`);
    await unlink(path.join(dir, 'tenants', 'acme.yaml'));
    expect((await reloadTenants(registry, db, logger, 'tick')).removed).toEqual(['acme']);
    const watched = await db.pool.query<{ tenant_id: string }>('select tenant_id from late_watch_tenants order by tenant_id');
    expect(watched.rows.map((r) => r.tenant_id)).toEqual(['other']); // only the removed one forgotten
  });

  it('replicas whose copies of a file differ report its broken version once, not every time it comes back', async () => {
    const goodDir = dir;
    const brokenDir = await mkdtemp(path.join(tmpdir(), 'reload-broken-'));
    try {
      await mkdir(path.join(brokenDir, 'tenants'));
      await writeFile(path.join(brokenDir, 'tenants', 'acme.yaml'), 'id: acme\nname: Acme\nkey: employee-number\n');
      const good = new TenantRegistry(goodDir);
      const stale = new TenantRegistry(brokenDir, await loadTenants(goodDir));
      const { logger } = captured();
      for (let tick = 0; tick < 4; tick++) {
        await reloadTenants(stale, db, logger, 'tick');
        await reloadTenants(good, db, logger, 'tick'); // sees no problem: marks it resolved
      }
      expect(await alerts()).toHaveLength(1);
      // gone for over a day, then back: reported again
      await reloadTenants(good, db, logger, 'tick');
      await db.pool.query(`update config_problems set resolved_at = now() - interval '25 hours'`);
      await reloadTenants(good, db, logger, 'tick');
      await reloadTenants(stale, db, logger, 'tick');
      expect(await alerts()).toHaveLength(2);
    } finally {
      await rm(brokenDir, { recursive: true, force: true });
    }
  });

  it('refuses two files of one tenant and tenants sharing an inbox, keeping the last good versions', async () => {
    const registry = new TenantRegistry(dir);
    await registry.reload();
    expect(registry.tenants.get('acme')!.name).toBe('Acme');
    // a stale copy beside the real file: which one would win was an accident of sorting
    await writeFile(path.join(dir, 'tenants', 'acme.yml'), 'id: acme\nname: Acme OLD\nguardrails:\n  maxDeletePercent: 100\n');
    const twins = await registry.reload();
    expect(twins.broken.map((b) => [b.file, b.error, b.keptTenant])).toEqual([
      ['acme.yaml', 'acme.yaml and acme.yml are both tenant "acme": remove the one not meant', 'acme'],
      ['acme.yml', 'acme.yaml and acme.yml are both tenant "acme": remove the one not meant', 'acme'],
    ]);
    expect(registry.tenants.get('acme')!.name).toBe('Acme');
    expect(registry.tenants.get('acme')!.guardrails.maxDeletePercent).not.toBe(100);
    await unlink(path.join(dir, 'tenants', 'acme.yml'));

    // a copied file whose inbox was not changed: one customer's file would be ingested into both tenants
    await tenantFile('beta', 'id: beta\nname: Beta\ndrop:\n  inbox: /acme/inbox/\n');
    const shared = await registry.reload();
    expect(shared.broken.map((b) => [b.file, b.error, b.keptTenant ?? null])).toEqual([
      ['acme.yaml', 'tenants acme and beta share the inbox /acme/inbox: each inbox belongs to one tenant (drop.inbox)', 'acme'],
      ['beta.yaml', 'tenants acme and beta share the inbox /acme/inbox: each inbox belongs to one tenant (drop.inbox)', null],
    ]);
    expect([...registry.tenants.keys()]).toEqual(['acme']);
    // at start nothing is kept: neither tenant runs, and every other one does
    await tenantFile('gamma', 'id: gamma\nname: Gamma\n');
    const fresh = new TenantRegistry(dir);
    expect((await fresh.reload()).broken.map((b) => b.file)).toEqual(['acme.yaml', 'beta.yaml']);
    expect([...fresh.tenants.keys()]).toEqual(['gamma']);
  });

});
