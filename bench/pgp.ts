/**
 * `npm run bench:pgp [-- --sizes 100000,1000000]`: the memory and time of reading an OpenPGP-encrypted
 * membership file (issue 14), against the same file in plain text. For each size it encrypts the
 * generator's "next" file with GnuPG (as a customer's export would: binary, gpg's default compression) to a
 * tenant key made by `generateTenantKey`, then measures, each step in a fresh process (peak RSS its own):
 *   1. the engine's reader on the plain file (no database)
 *   2. the same reader on the encrypted file, decrypted as a stream (src/csv/open.ts; no database)
 *   3. ingest of the plain previous file into a fresh PostgreSQL database (setup, not compared)
 *   4. ingest of the encrypted next file against it (the issue's target: ingest peak RSS < 300 MB)
 * A benchmark, not a test: exit 0 whatever it measures, 1 when a step crashed.
 */
import { execFile, spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import type { OpenedFile } from '../src/csv/open.js';
import { ensureBenchFiles, sizeLabel } from './generate.js';
import { withAdmin } from './admin.js';

const HERE = path.dirname(fileURLToPath(import.meta.url)); // dist/bench
const ROOT = path.resolve(HERE, '..', '..');
const PASSPHRASE_ENV = 'HRIS_BENCH_PGP_PASSPHRASE';
const run = promisify(execFile);

interface StepOutcome {
  wallMs: number;
  maxRssKiB: number;
  rows: number;
  status?: string;
  reasons?: string[];
  encryptedTo?: string | null;
}

/** The child: one step, one JSON line. */
async function step(kind: string, file: string, keyFile: string, dbUrl?: string): Promise<void> {
  const [{ tenantConfigSchema }, { openMembershipFile }, { ingestFile }, { openDatabase }] = await Promise.all([
    import('../src/config/tenant.js'),
    import('../src/csv/open.js'),
    import('../src/pipeline.js'),
    import('../src/store/db.js'),
  ]);
  const tenant = tenantConfigSchema.parse({ id: 'bench', name: 'bench', pgp: { privateKeyFile: keyFile, passphraseEnv: PASSPHRASE_ENV } });
  const input = { name: path.basename(file), open: () => createReadStream(file) };
  const started = performance.now();
  let outcome: Omit<StepOutcome, 'wallMs' | 'maxRssKiB'>;
  if (kind === 'read') {
    const opened: OpenedFile = {};
    const reading = openMembershipFile(input, tenant, { batchSize: 2000 }, opened);
    let rows = 0;
    for await (const batch of reading.batches) rows += batch.rows.length + batch.invalid.length;
    const totals = await reading.totals;
    if (totals.fatal) throw new Error(`line ${totals.fatal.line}: ${totals.fatal.message}`);
    outcome = { rows, encryptedTo: opened.encryption?.keyId ?? null };
  } else {
    const db = await openDatabase({ url: dbUrl! });
    try {
      const summary = await ingestFile({ db }, tenant, input);
      outcome = { rows: summary.rows, status: summary.status, reasons: summary.reasons, encryptedTo: summary.encryption?.keyId ?? null };
    } finally {
      await db.close();
    }
  }
  const wallMs = Math.round(performance.now() - started);
  process.stdout.write(`${JSON.stringify({ ...outcome, wallMs, maxRssKiB: process.resourceUsage().maxRSS })}\n`);
}

function child(args: string[], env: NodeJS.ProcessEnv): Promise<StepOutcome> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), 'step', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    proc.stderr.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-3000)));
    proc.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as StepOutcome);
      else reject(new Error(`step ${args[0]} exit ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

async function measureSize(rows: number, dataDir: string, serverUrl: string): Promise<string[]> {
  const label = sizeLabel(rows);
  const files = await ensureBenchFiles(dataDir, rows);
  const work = await mkdtemp(path.join(os.tmpdir(), 'hris-bench-pgp-'));
  const lines: string[] = [];
  try {
    const { generateTenantKey } = await import('../src/config/pgp-keys.js');
    const passphrase = 'bench passphrase';
    const key = await generateTenantKey({ userId: 'hris-ingest bench', passphrase, type: 'rsa' });
    const keyFile = path.join(work, 'bench.private.asc');
    await writeFile(keyFile, key.privateKey);
    const home = path.join(work, 'gnupg');
    await mkdir(home);
    await chmod(home, 0o700);
    const gpg = (args: string[]) => run('gpg', ['--homedir', home, '--batch', '--yes', '--quiet', '--trust-model', 'always', ...args], { maxBuffer: 1 << 20 });
    await writeFile(path.join(work, 'bench.public.asc'), key.publicKey);
    await gpg(['--import', path.join(work, 'bench.public.asc')]);
    const encrypted = path.join(work, `${files.next.name}.pgp`);
    const t0 = performance.now();
    await gpg(['--encrypt', '-r', key.fingerprint, '--output', encrypted, files.next.path]);
    const encryptedBytes = (await stat(encrypted)).size;
    process.stdout.write(`${label}: "${files.next.name}" ${(files.next.bytes / 1e6).toFixed(1)} MB, encrypted by gpg to ${(encryptedBytes / 1e6).toFixed(1)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

    const env = { ...process.env, [PASSPHRASE_ENV]: passphrase, LOG_LEVEL: 'warn' };
    const show = (name: string, o: StepOutcome) => {
      const line = `| ${label} | ${name} | ${(o.wallMs / 1000).toFixed(2)} | ${Math.round(o.rows / (o.wallMs / 1000)).toLocaleString('en-US')} | ${Math.round(o.maxRssKiB / 1024)} | ${o.status ?? ''}${o.encryptedTo ? ` (key ${o.encryptedTo})` : ''} |`;
      process.stdout.write(`${line}\n`);
      lines.push(line);
    };
    show('engine reader, plain CSV', await child(['read', files.next.path, keyFile], env));
    show('engine reader, OpenPGP (decrypted as a stream)', await child(['read', encrypted, keyFile], env));
    const dbName = `hris_bench_pgp_${label.toLowerCase()}_${Date.now().toString(36)}`;
    await withAdmin(serverUrl, (c) => c.query(`create database ${dbName}`));
    const dbUrl = new URL(serverUrl);
    dbUrl.pathname = `/${dbName}`;
    try {
      show('ingest previous, plain (setup)', await child(['ingest', files.previous.path, keyFile, dbUrl.toString()], env));
      await withAdmin(dbUrl.toString(), (c) => c.query('vacuum (analyze)'));
      show('ingest next, OpenPGP (PostgreSQL)', await child(['ingest', encrypted, keyFile, dbUrl.toString()], env));
    } finally {
      await withAdmin(serverUrl, (c) => c.query(`drop database if exists ${dbName} with (force)`)).catch(() => undefined);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return lines;
}

async function main(): Promise<void> {
  if (process.argv[2] === 'step') {
    const [, , , kind, file, keyFile, dbUrl] = process.argv;
    await step(kind!, file!, keyFile!, dbUrl);
    return;
  }
  const { values } = parseArgs({ options: { sizes: { type: 'string' }, 'data-dir': { type: 'string' } } });
  const sizes = (values.sizes ?? '100000,1000000').split(',').map(Number);
  if (!existsSync('/usr/bin/gpg')) throw new Error('GnuPG (/usr/bin/gpg) is needed to encrypt the files as a customer would');
  const dataDir = path.resolve(values['data-dir'] ?? path.join(ROOT, 'bench', 'data'));
  const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  process.stdout.write(`hris-sftp-ingest OpenPGP benchmark ${new Date().toISOString()}, ${os.cpus().length} CPUs, Node ${process.version}, load ${os.loadavg()[0]!.toFixed(1)}\n`);
  const table = ['| file | step | wall s | rows/s | peak RSS MB | outcome |', '| --- | --- | ---: | ---: | ---: | --- |'];
  for (const rows of sizes) table.push(...(await measureSize(rows, dataDir, serverUrl)));
  process.stdout.write(`\n${table.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
