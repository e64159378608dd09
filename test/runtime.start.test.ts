import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV_VARS } from '../src/config/app.js';
import { ensureBuilt, REPO, runCli } from './support/cli.js';
import { serviceMissing } from './support/services.js';
import { freePort, logLines, personalData, SAMPLE, startService, type Service } from './runtime.support.js';
import type { HealthReport } from '../src/web/health.js';

const run = promisify(execFile);
const SAMPLE_NAME = path.basename(SAMPLE);

/**
 * `hris-ingest start` with nothing configured, as `npm start` runs it on a fresh clone: embedded
 * PGlite, the development drop, the example tenant, local alerts. Ports are random (the drop's 2022
 * is only the default) and the schedule is every 3 s so the test stays short; the stability interval
 * is the embedded default (5 s).
 */
describe('hris-ingest start (embedded defaults)', () => {
  let dir: string;
  let service: Service | undefined;
  let env: NodeJS.ProcessEnv;
  let dropPort: number;
  let httpPort: number;

  beforeAll(async () => {
    ensureBuilt();
    dir = await mkdtemp(path.join(tmpdir(), 'hris-start-'));
    await cp(path.join(REPO, 'config'), path.join(dir, 'config'), { recursive: true });
    dropPort = await freePort();
    httpPort = await freePort();
    env = { ...process.env, NO_COLOR: '1' };
    for (const name of Object.keys(ENV_VARS)) delete env[name];
    Object.assign(env, {
      HRIS_CONFIG_DIR: path.join(dir, 'config'),
      HRIS_DATA_DIR: path.join(dir, 'data'),
      DROP_PORT: String(dropPort),
      HTTP_PORT: String(httpPort),
      SCHEDULE_CRON: '*/3 * * * * *',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'debug',
    });
  });
  afterAll(async () => {
    if (service) await service.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('processes the sample into the three files, says where, serves health and metrics, logs no personal data, and stops cleanly', { timeout: 180_000 }, async () => {
    service = startService({ cwd: dir, env });
    await service.waitFor(({ stdout }) => stdout.includes('Stop with Ctrl-C'), 'the start banner', 90_000);
    const banner = service.stdout();
    expect(banner).toContain(`Sample file placed in the example inbox: ${path.join('data', 'drop', 'example', 'inbox', SAMPLE_NAME)}`);
    expect(banner).toContain(`are written to: ${path.join('data', 'outputs')}`);
    const command = /^ {4}(sftp -P (\d+) -i (\S+) -o UserKnownHostsFile=(\S+) example@127\.0\.0\.1)$/m.exec(banner);
    expect(command, banner).not.toBeNull();
    expect(Number(command![2])).toBe(dropPort);
    // The console's first operator, with its one-time password, printed on the first start only.
    const firstOperator = /Sign in at (\S+)\/login as "admin" with the one-time password:\n {4}(\S+)$/m.exec(banner);
    expect(firstOperator, banner).not.toBeNull();
    expect(firstOperator![1]).toBe(`http://127.0.0.1:${httpPort}`);

    // The sample becomes one accepted run with its three files, and the output says where they are.
    await service.waitFor(({ stdout }) => /-> accepted \(run \d+\):/.test(stdout), 'the sample to be accepted');
    await service.waitFor(({ stdout }) => (stdout.match(/^ {4}data\/outputs\/.*\.csv$/gm) ?? []).length >= 3, 'the three file paths');
    const listed = (service.stdout().match(/^ {4}(data\/outputs\/.*\.csv)$/gm) ?? []).map((line) => line.trim());
    expect(listed.map((file) => path.basename(file)).sort()).toEqual([
      'example 2023-01-13 potential invites.csv',
      'example 2023-01-13 profile deletions.csv',
      'example 2023-01-13 profile updates.csv',
    ]);
    for (const file of listed) expect(existsSync(path.join(dir, file)), file).toBe(true);
    const invites = readFileSync(path.join(dir, 'data/outputs/example 2023-01-13 potential invites.csv'), 'utf8');
    expect(invites).toContain('olivia.martin@example.com');
    expect(existsSync(path.join(dir, 'data/drop/example/processed', SAMPLE_NAME))).toBe(true);
    await service.waitFor(() => existsSync(path.join(dir, 'data/alerts')), 'the local alert folder');

    // Health and metrics on the configured port.
    const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as HealthReport).status).toBe('ok');
    const healthCommand = await runCli(['health'], { cwd: dir, env });
    expect(healthCommand.stdout).toBe('ok\n');
    expect(healthCommand.code).toBe(0);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^hris_files_total\{[^}]*outcome="accepted"[^}]*\} 1$/m);
    expect(metrics).toMatch(/^hris_rows_processed_total\{[^}]*tenant="example"[^}]*\} 30$/m);

    // The printed sftp command works as printed: upload the next month's file as the example tenant.
    if (!existsSync('/usr/bin/sftp')) {
      serviceMissing('sftp', 'the OpenSSH sftp client is not installed');
    } else {
      const next = path.join(dir, '10KC Membership File - Your Organization Name - All Active Personnel - 02.13.2023.csv');
      const sampleLines = readFileSync(SAMPLE, 'utf8').trimEnd().split('\n');
      await writeFile(next, `${sampleLines.slice(0, -1).join('\n')}\n`); // one member fewer: one deletion
      const batch = path.join(dir, 'upload.batch');
      await writeFile(batch, `put "${next}" inbox/\n`);
      const [, , , keyFile, knownHosts] = command!;
      await run('sftp', ['-b', batch, '-P', String(dropPort), '-i', keyFile!, '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'BatchMode=yes', 'example@127.0.0.1'], { cwd: dir });
      await service.waitFor(({ stdout }) => /02\.13\.2023\.csv -> accepted \(run \d+\)/.test(stdout), 'the uploaded file to be accepted');
      const deletions = readFileSync(path.join(dir, 'data/outputs/example 2023-02-13 profile deletions.csv'), 'utf8');
      expect(deletions.trimEnd().split('\n')).toHaveLength(2); // header + the member left out
    }

    const code = await service.stop('SIGTERM');
    expect(code).toBe(0);
    expect(service.stderr()).toMatch(/"msg":"stopped"/);

    // Logs: one line per stage with tenant, file, run id, timings and counts ...
    const lines = logLines(service.stderr());
    const processed = lines.find((line) => typeof line === 'object' && line.msg === 'file processed' && line.file === SAMPLE_NAME) as Record<string, any>;
    expect(processed).toMatchObject({ tenant: 'example', outcome: 'accepted', rows: 30, counts: { invites: 27 } });
    expect(typeof processed.runId).toBe('number');
    expect(typeof processed.ms).toBe('number');
    expect(lines.some((line) => typeof line === 'object' && line.stage === 'take' && line.file === SAMPLE_NAME)).toBe(true);
    // ... and never a member's personal data, in any line of either stream.
    const output = `${service.stdout()}\n${service.stderr()}`;
    const leaked = personalData(SAMPLE).filter((value) => new RegExp(`(^|[^A-Za-z0-9])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^A-Za-z0-9])`).test(output));
    expect(leaked).toEqual([]);
    service = undefined;

    // A restart does not place the sample again nor process anything twice.
    const again = startService({ cwd: dir, env });
    service = again;
    await again.waitFor(({ stderr }) => /"stage":"tick"/.test(stderr), 'a tick after the restart');
    expect(again.stdout()).not.toContain('Sample file placed');
    expect(again.stdout()).not.toContain('one-time password');
    expect(await again.stop('SIGINT')).toBe(0);
    expect(again.stdout()).not.toMatch(/-> accepted/);
    expect((await readdir(path.join(dir, 'data/drop/example/inbox'))).filter((name) => name.endsWith('.csv'))).toEqual([]);
    service = undefined;
  });
});
