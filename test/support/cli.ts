import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { ENV_VARS } from '../../src/config/app.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(REPO, 'dist/src/cli.js');
export const SEQUENCES = path.join(REPO, 'fixtures/sequences');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * The CLI tests run the built command. `npm test` builds first; a direct `npx vitest run` rebuilds
 * here when dist is missing or older than src.
 */
export function ensureBuilt(): void {
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newestMtime(path.join(REPO, 'src'))) return;
  try {
    execFileSync(process.execPath, [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', REPO], { stdio: 'pipe' });
  } catch (error) {
    const output = String((error as { stdout?: Buffer }).stdout ?? '');
    // tsc still emits on type errors; a missing entry point is fatal, a type error elsewhere is reported.
    if (!existsSync(CLI) || process.env.CI === 'true') throw new Error(`build failed:\n${output}`);
    console.warn(`NOTE: build reported type errors:\n${output.slice(0, 2000)}`);
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The JSON object on the last line of stdout. */
  json(): Record<string, any>;
}

export function runCli(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 100_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout,
        stderr,
        json() {
          const last = stdout.trimEnd().split('\n').pop() ?? '';
          try {
            return JSON.parse(last) as Record<string, any>;
          } catch {
            throw new Error(`last stdout line is not JSON (exit ${code}):\nstdout: ${stdout}\nstderr: ${stderr}`);
          }
        },
      });
    });
  });
}

export interface CliSandbox {
  /** Working directory of the command (./out and ./data land here). */
  dir: string;
  configDir: string;
  env: NodeJS.ProcessEnv;
  run(...args: string[]): Promise<CliResult>;
  /** Writes config/tenants/<id>.yaml. */
  writeTenant(tenant: { id: string } & Record<string, unknown>): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * A temp working dir with its own HRIS_CONFIG_DIR. No inherited configuration: every variable the
 * app reads is cleared, then DATABASE_URL is set when given (else the command uses its defaults).
 */
export async function cliSandbox(options: { databaseUrl?: string; tenants?: Array<{ id: string } & Record<string, unknown>>; repoTenants?: string[] } = {}): Promise<CliSandbox> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hris-cli-'));
  const configDir = path.join(dir, 'config');
  await mkdir(path.join(configDir, 'tenants'), { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(ENV_VARS)) delete env[name];
  delete env.HRIS_CONFIG_DIR;
  env.HRIS_CONFIG_DIR = configDir;
  env.NO_COLOR = '1';
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  const sandbox: CliSandbox = {
    dir,
    configDir,
    env,
    run: (...args) => runCli(args, { cwd: dir, env }),
    async writeTenant(tenant) {
      await writeFile(path.join(configDir, 'tenants', `${tenant.id}.yaml`), toYaml({ name: tenant.id, ...tenant }));
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
  for (const tenant of options.tenants ?? []) await sandbox.writeTenant(tenant);
  for (const id of options.repoTenants ?? []) {
    await copyFile(path.join(REPO, 'config/tenants', `${id}.yaml`), path.join(configDir, 'tenants', `${id}.yaml`));
  }
  return sandbox;
}

/** The files of fixture sequence NAME, in order (01 ..., 02 ...). */
export function sequence(name: string): string[] {
  const dir = path.join(SEQUENCES, name);
  return readdirSync(dir)
    .filter((file) => file.endsWith('.csv'))
    .sort()
    .map((file) => path.join(dir, file));
}
