/**
 * `npm run bench -- --e2e`: the whole path as in production, each command a fresh process of the built CLI.
 * Per drop (OpenSSH sshd, the development drop) and size: the next file is uploaded with OpenSSH `sftp put`
 * (the tenant's state being the previous file, ingested as setup), `poll --once` observes it, `poll --once`
 * takes it (download, engine, snapshot, archive) and posts the alert with the three files to a fake Slack Web
 * API (test/support/fake-slack.ts, through the real @slack/web-api client); `notify deliver` runs (and counts)
 * only if the take left the alert queued. Measured in the same run: the bare csv-parse parse of the file
 * and OpenSSH `sftp get` of it from the same drop. Then one
 * tick over 100 tenants with a 1,000-row file each, for several schedule.maxParallelTenants values.
 * Wall time and peak RSS of each command come from /usr/bin/time; the load average is printed beside them.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startDevDrop } from '../src/drop/dev-server.js';
import { startFakeSlack, type FakeSlack } from '../test/support/fake-slack.js';
import { sftpBatch, type SftpTarget } from '../test/support/sftp-cli.js';
import { sshdInstalled, startSshd } from '../test/support/sshd.js';
import { ensureBenchFiles, sizeLabel, type GeneratedFile } from './generate.js';
import { vacuumBetweenFiles, withAdmin } from './admin.js';
import { formatPhases } from './report.js';

const HERE = path.dirname(fileURLToPath(import.meta.url)); // dist/bench
const CLI = path.resolve(HERE, '..', 'src', 'cli.js');
const STEP = path.join(HERE, 'step.js');
const TIME = '/usr/bin/time';

export interface E2eOptions {
  sizes: number[];
  drops: ('sshd' | 'dev')[];
  tenants: number;
  parallel: number[];
  dataDir: string;
  databaseUrl: string;
  /** VACUUM (ANALYZE) after the setup, as between two files weeks apart (bench/run.ts; --no-vacuum skips it). */
  vacuumBetween: boolean;
}

interface Timed {
  wallS: number;
  rssMB: number;
  load: number;
  stdout: string;
}

/** Runs a command under /usr/bin/time: its wall time and peak RSS, with the 1-minute load average. */
function timed(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const load = os.loadavg()[0]!;
    const child = spawn(TIME, ['-f', 'TIME %e %M', command, ...args], { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-20_000)));
    child.once('error', reject);
    child.once('close', (code) => {
      const match = /TIME ([\d.]+) (\d+)\s*$/.exec(stderr);
      if (code !== 0 || !match) {
        reject(new Error(`${path.basename(command)} ${args.slice(0, 3).join(' ')} exited ${code}: ${stderr.slice(-800)}`));
        return;
      }
      resolve({ wallS: Number(match[1]), rssMB: Number(match[2]) / 1024, load: Math.max(load, os.loadavg()[0]!), stdout });
    });
  });
}

const lastJson = (out: string) => JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;

/** One drop to upload to and poll from. */
interface Drop {
  kind: 'sshd' | 'dev';
  label: string;
  target: SftpTarget;
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

async function startDrop(kind: 'sshd' | 'dev', scratch: string): Promise<Drop> {
  if (kind === 'sshd') {
    const sshd = await startSshd();
    const target = { host: sshd.host, port: sshd.port, user: sshd.user, keyFile: sshd.clientKeyFile };
    const env = { DROP_HOST: sshd.host, DROP_PORT: String(sshd.port), DROP_USER: sshd.user, DROP_PRIVATE_KEY_FILE: sshd.clientKeyFile, DROP_HOST_KEY_SHA256: sshd.hostKeySha256 };
    return { kind, label: `OpenSSH sshd :${sshd.port}`, target, env, stop: () => sshd.stop() };
  }
  const keysDir = path.join(scratch, 'dev-drop-keys');
  const drop = await startDevDrop({ root: path.join(scratch, 'dev-drop'), keysDir, port: 0, host: '127.0.0.1' });
  const keyFile = path.join(keysDir, 'poller_ed25519');
  const target = { host: drop.host, port: drop.port, user: 'hris', keyFile };
  const env = { DROP_HOST: drop.host, DROP_PORT: String(drop.port), DROP_USER: 'hris', DROP_PRIVATE_KEY_FILE: keyFile, DROP_HOST_KEY_SHA256: drop.hostKeySha256 };
  return { kind, label: `development drop :${drop.port}`, target, env, stop: () => drop.stop() };
}

async function freshDatabase(serverUrl: string, label: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `hris_e2e_${label.toLowerCase()}_${Date.now().toString(36)}`;
  await withAdmin(serverUrl, (c) => c.query(`create database ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => withAdmin(serverUrl, (c) => c.query(`drop database if exists ${name} with (force)`)).then(() => undefined) };
}

/** A working folder with its config (tenants, app.yaml) and the environment of the CLI commands. */
async function sandbox(scratch: string, name: string, tenants: string[], parallel: number, env: NodeJS.ProcessEnv): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = path.join(scratch, name);
  await mkdir(path.join(dir, 'config', 'tenants'), { recursive: true });
  // Taken at the second tick (two observations), without waiting stableSeconds.
  await writeFile(path.join(dir, 'config', 'app.yaml'), `drop:\n  stableSeconds: 0\nschedule:\n  maxParallelTenants: ${parallel}\n`);
  for (const id of tenants) await writeFile(path.join(dir, 'config', 'tenants', `${id}.yaml`), `id: ${id}\nname: ${id}\n`);
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(DROP_|SLACK_|DATABASE_URL|HTTP_|SCHEDULE_|HRIS_)/.test(k)));
  return { dir, env: { ...clean, HRIS_CONFIG_DIR: path.join(dir, 'config'), HRIS_DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'warn', NO_COLOR: '1', ...env } };
}

interface E2eRow {
  drop: string;
  rows: number;
  parseS: number;
  sftpGetS: number;
  ticks: Timed[];
  /** `notify deliver`, run only when the take left the alert queued (`poll --once` delivers what it queued). */
  deliver: Timed | null;
  e2eS: number;
  rssMB: number;
  checks: string[];
}

/** One size on one drop: setup (previous file ingested), then the next file end to end. */
async function endToEnd(options: E2eOptions, drop: Drop, slack: FakeSlack, file: { previous: GeneratedFile; next: GeneratedFile }, scratch: string): Promise<E2eRow> {
  const label = sizeLabel(file.next.rows);
  const db = await freshDatabase(options.databaseUrl, label);
  try {
    const slackEnv = { SLACK_BOT_TOKEN: slack.token, SLACK_API_URL: slack.url, SLACK_CHANNEL: '#monitoring-hris-files' };
    const box = await sandbox(scratch, `${drop.kind}-${label}`, ['bench'], 2, { ...drop.env, ...slackEnv, DATABASE_URL: db.url });
    const cli = (...args: string[]) => timed(process.execPath, [CLI, ...args], { env: box.env, cwd: box.dir });
    // Setup: the tenant's state is the previous file (its alert is not part of the measurement).
    process.stdout.write(`   setup: ingest of the previous file ... `);
    const setup = await cli('ingest', file.previous.path, '--tenant', 'bench', '--json');
    await withAdmin(db.url, (c) => c.query('delete from outbox'));
    process.stdout.write(`${setup.wallS.toFixed(1)} s\n`);
    if (options.vacuumBetween) {
      // As in bench/run.ts; right after the setup's 1M-row first file, the take paid for it (2-3 s).
      await vacuumBetweenFiles(db.url);
    }
    const remote = `/bench/inbox/${file.next.name}`;
    await sftpBatch(drop.target, ['-mkdir /bench', '-mkdir /bench/inbox', `put "${file.next.path}" "${remote}"`]);
    const getTo = path.join(scratch, 'sftp-get.csv');
    const t = drop.target;
    const batch = path.join(scratch, 'sftp-get.batch');
    await writeFile(batch, `get "${remote}" "${getTo}"\n`);
    const sftpGet = await timed('sftp', [
      '-P', String(t.port), '-i', t.keyFile, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-q', '-b', batch, `${t.user}@${t.host}`,
    ]);
    await rm(getTo, { force: true });
    const parse = await timed(process.execPath, [STEP, 'parse', file.next.path]);
    const messagesBefore = slack.messages.length;
    const ticks = [await cli('poll', '--once', '--json'), await cli('poll', '--once', '--json')];
    // Since 2026-12-02 the take delivers the alert it queued; a separate pass only if it is still queued.
    const alerts = lastJson(ticks[1]!.stdout).alerts as { delivered?: number; pending?: number } | undefined;
    const deliver = alerts?.delivered === 1 && alerts.pending === 0 ? null : await cli('notify', 'deliver', '--json');
    const checks = await verify(db.url, slack, messagesBefore, ticks, file.next);
    const steps = deliver ? [...ticks, deliver] : ticks;
    const e2eS = steps.reduce((s, t) => s + t.wallS, 0);
    return { drop: drop.label, rows: file.next.rows, parseS: parse.wallS, sftpGetS: sftpGet.wallS, ticks, deliver, e2eS, rssMB: Math.max(...steps.map((t) => t.rssMB)), checks };
  } finally {
    await db.drop().catch(() => undefined);
  }
}

/** What arrived: the run accepted with the generator's counts, the snapshot moved, one alert with three files. */
async function verify(url: string, slack: FakeSlack, messagesBefore: number, ticks: Timed[], next: GeneratedFile): Promise<string[]> {
  const problems: string[] = [];
  const taken = JSON.stringify(lastJson(ticks[1]!.stdout));
  if (!taken.includes('"accepted"')) problems.push(`second tick did not accept the file: ${taken.slice(0, 300)}`);
  const run = await withAdmin(url, (c) =>
    c.query<{ status: string; counts: Record<string, number>; timings: Record<string, number> | null }>(
      "select status, counts, timings from runs where source = 'drop' order by id desc limit 1",
    ),
  );
  const counts = run.rows[0]?.counts ?? {};
  for (const [k, v] of Object.entries(next.expected)) if (counts[k] !== v) problems.push(`${k} ${counts[k]} (expected ${v})`);
  const members = await withAdmin(url, (c) => c.query<{ n: number }>('select count(*)::int as n from members'));
  const alerts = slack.messages.slice(messagesBefore);
  if (alerts.length !== 1) problems.push(`${alerts.length} Slack messages (expected 1)`);
  const files = alerts[0] ? slack.filesInThread(alerts[0].ts).length : 0;
  if (files !== 3) problems.push(`${files} files in the alert's thread (expected 3)`);
  // The engine's own phases of the taken run: what of the take was the engine, and what the download around it.
  const phases = formatPhases(run.rows[0]?.timings ?? {});
  return problems.length > 0
    ? problems
    : [`accepted, counts match the generator, ${members.rows[0]!.n.toLocaleString('en-US')} members stored, 1 alert with 3 files; engine phases: ${phases}`];
}

/** One tick over TENANTS tenants, each with a 1,000-row first file, at each parallelism. */
async function manyTenants(options: E2eOptions, drop: Drop, scratch: string): Promise<{ parallel: number; tick: Timed; accepted: number }[]> {
  const files = await ensureBenchFiles(options.dataDir, 1000);
  const ids = Array.from({ length: options.tenants }, (_, i) => `t${String(i + 1).padStart(3, '0')}`);
  const results: { parallel: number; tick: Timed; accepted: number }[] = [];
  for (const parallel of options.parallel) {
    const db = await freshDatabase(options.databaseUrl, `tenants_p${parallel}`);
    try {
      const box = await sandbox(scratch, `${drop.kind}-tenants-p${parallel}`, ids, parallel, { ...drop.env, DATABASE_URL: db.url });
      const local = path.join(box.dir, files.previous.name);
      await copyFile(files.previous.path, local);
      await sftpBatch(drop.target, ids.flatMap((id) => [`-mkdir /${id}`, `-mkdir /${id}/inbox`, `-rm "/${id}/inbox/*"`, `put "${local}" "/${id}/inbox/${files.previous.name}"`]));
      const cli = (...args: string[]) => timed(process.execPath, [CLI, ...args], { env: box.env, cwd: box.dir });
      await cli('poll', '--once', '--json'); // observes every inbox
      const tick = await cli('poll', '--once', '--json');
      const outcome = lastJson(tick.stdout) as { files?: { outcome: string }[] };
      const accepted = (outcome.files ?? []).filter((f) => f.outcome === 'accepted').length;
      results.push({ parallel, tick, accepted });
      process.stdout.write(`   ${options.tenants} tenants, maxParallelTenants ${parallel}: tick ${tick.wallS.toFixed(1)} s, peak RSS ${tick.rssMB.toFixed(0)} MB, ${accepted} accepted, load ${tick.load.toFixed(1)}\n`);
    } finally {
      await db.drop().catch(() => undefined);
    }
  }
  return results;
}

export async function runE2e(options: E2eOptions): Promise<void> {
  if (!sshdInstalled()) throw new Error('the e2e benchmark needs OpenSSH (sshd, sftp, ssh-keygen)');
  await promisify(execFile)(TIME, ['-f', '%e', 'true']).catch(() => {
    throw new Error(`the e2e benchmark needs ${TIME} (GNU time) for peak RSS`);
  });
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'hris-e2e-'));
  const slack = await startFakeSlack();
  const rows: E2eRow[] = [];
  let tenants: Awaited<ReturnType<typeof manyTenants>> = [];
  try {
    for (const kind of options.drops) {
      const drop = await startDrop(kind, scratch);
      try {
        process.stdout.write(`\n== end to end on the ${drop.label}\n`);
        for (const size of options.sizes) {
          const files = await ensureBenchFiles(options.dataDir, size);
          process.stdout.write(`   ${sizeLabel(size)} rows (${(files.next.bytes / 1e6).toFixed(0)} MB):\n`);
          const row = await endToEnd(options, drop, slack, files, scratch);
          rows.push(row);
          process.stdout.write(`${rowText(row)}\n`);
        }
        if (kind === 'sshd' && options.tenants > 0) tenants = await manyTenants(options, drop, scratch);
      } finally {
        await drop.stop();
      }
    }
  } finally {
    await slack.close();
    await rm(scratch, { recursive: true, force: true });
  }
  process.stdout.write(`\n${report(rows, tenants, options)}\n`);
}

function rowText(r: E2eRow): string {
  const [t1, t2] = r.ticks;
  const deliver = r.deliver ? `notify deliver ${r.deliver.wallS.toFixed(1)} s` : 'alert delivered by the take';
  return (
    `     poll --once (observe) ${t1!.wallS.toFixed(1)} s, poll --once (take) ${t2!.wallS.toFixed(1)} s, ${deliver}` +
    ` = ${r.e2eS.toFixed(1)} s end to end; peak RSS ${r.rssMB.toFixed(0)} MB; bare parse ${r.parseS.toFixed(1)} s (${(r.e2eS / r.parseS).toFixed(2)}x);` +
    ` sftp get ${r.sftpGetS.toFixed(1)} s (${(r.e2eS / r.sftpGetS).toFixed(2)}x); load ${Math.max(...r.ticks.map((t) => t.load), r.deliver?.load ?? 0).toFixed(1)}\n     ${r.checks.join('; ')}`
  );
}

function report(rows: E2eRow[], tenants: Awaited<ReturnType<typeof manyTenants>>, options: E2eOptions): string {
  const lines = [
    '| drop | rows | poll (observe) s | poll (take) s | notify deliver s | end to end s | x bare parse | x sftp get | peak RSS MB | load |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.drop} | ${r.rows.toLocaleString('en-US')} | ${r.ticks[0]!.wallS.toFixed(2)} | ${r.ticks[1]!.wallS.toFixed(2)} | ${r.deliver ? r.deliver.wallS.toFixed(2) : '(in the take)'} | ${r.e2eS.toFixed(2)} | ` +
        `${(r.e2eS / r.parseS).toFixed(2)}x (${r.parseS.toFixed(2)} s) | ${(r.e2eS / r.sftpGetS).toFixed(2)}x (${r.sftpGetS.toFixed(2)} s) | ${r.rssMB.toFixed(0)} | ${Math.max(...r.ticks.map((t) => t.load)).toFixed(1)} |`,
    ),
  ];
  if (tenants.length > 0) {
    lines.push('', `| one tick, ${options.tenants} tenants x 1,000 rows | tick s | peak RSS MB | accepted | load |`, '| --- | ---: | ---: | ---: | ---: |');
    for (const t of tenants) lines.push(`| maxParallelTenants ${t.parallel} | ${t.tick.wallS.toFixed(2)} | ${t.tick.rssMB.toFixed(0)} | ${t.accepted} | ${t.tick.load.toFixed(1)} |`);
  }
  const big = rows.filter((r) => r.rows >= 1_000_000);
  const targets = ['', 'Targets (2 cores):'];
  for (const r of big) {
    targets.push(`  1M end to end <= 2.2x bare parse (${r.drop}): ${(r.e2eS / r.parseS).toFixed(2)}x ${r.e2eS / r.parseS <= 2.2 ? 'PASS' : 'MISS'}`);
  }
  for (const r of rows) targets.push(`  peak RSS < 300 MB (${r.drop}, ${sizeLabel(r.rows)}): ${r.rssMB.toFixed(0)} MB ${r.rssMB < 300 ? 'PASS' : 'MISS'}`);
  for (const t of tenants) targets.push(`  ${options.tenants} tenants in one tick <= 30 s (maxParallelTenants ${t.parallel}): ${t.tick.wallS.toFixed(1)} s ${t.tick.wallS <= 30 && t.accepted === options.tenants ? 'PASS' : 'MISS'}`);
  const failed = rows.filter((r) => !r.checks[0]?.startsWith('accepted'));
  if (failed.length > 0) targets.push(`  CHECKS FAILED: ${failed.map((r) => `${r.drop} ${r.rows}: ${r.checks.join('; ')}`).join(' | ')}`);
  return [...lines, ...targets].join('\n');
}
