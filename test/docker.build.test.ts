import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ENV_VARS } from '../src/config/app.js';
import { dockerignore, parseDockerfile, type Instruction } from './support/dockerfile.js';
import { REPO } from './support/cli.js';

const run = promisify(execFile);
const dockerfileText = readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');
const instructions = parseDockerfile(dockerfileText);

/** Absolute paths inside a stage live under its own root folder. */
function inRoot(root: string, absolute: string): string {
  return path.join(root, absolute);
}

/** Rewrites the absolute paths of a RUN command into the stage's root. */
function rewriteRun(command: string, root: string): string {
  return command.replace(/(^|[\s=])(\/[A-Za-z0-9_.@/-]*)/g, (_, lead: string, absolute: string) => `${lead}${inRoot(root, absolute)}`);
}

interface Stage {
  name: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  cmd?: string[];
  healthcheck?: { argv: string[]; options: string[] };
}

describe('Dockerfile', () => {
  let temp: string | undefined;
  afterAll(async () => {
    if (temp) await rm(temp, { recursive: true, force: true });
  });

  it('is multi-stage: builds on a Node LTS the package supports, then production dependencies only, non-root, HEALTHCHECK, CMD hris-ingest start', () => {
    const froms = instructions.filter((i): i is Extract<Instruction, { kind: 'FROM' }> => i.kind === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(from.image).toMatch(/^node:(20|22|24)(\.|-|$)/);
    const runs = instructions.filter((i) => i.kind === 'RUN').map((i) => (i as { command: string }).command);
    expect(runs.some((c) => /npm ci --omit=dev/.test(c))).toBe(true);
    expect(runs.some((c) => /npm run build/.test(c))).toBe(true);
    const last = instructions.slice(instructions.lastIndexOf(froms[froms.length - 1]!));
    const users = last.filter((i) => i.kind === 'USER').map((i) => (i as { user: string }).user);
    expect(users.length).toBeGreaterThan(0);
    expect(users[users.length - 1]).not.toMatch(/^(root|0)(:|$)/);
    expect(last.find((i) => i.kind === 'HEALTHCHECK')).toBeTruthy();
    expect(last.find((i) => i.kind === 'CMD')).toMatchObject({ argv: ['hris-ingest', 'start'] });
  });

  it('runs its steps on a clean copy of the repository, and the production image answers --help', { timeout: 900_000 }, async () => {
    temp = await mkdtemp(path.join(tmpdir(), 'hris-docker-'));
    const context = path.join(temp, 'context');
    const ignored = dockerignore(existsSync(path.join(REPO, '.dockerignore')) ? readFileSync(path.join(REPO, '.dockerignore'), 'utf8') : '');
    const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: REPO, encoding: 'utf8' }).split('\0').filter(Boolean);
    let copied = 0;
    for (const file of tracked) {
      if (ignored(file) || !existsSync(path.join(REPO, file))) continue;
      await mkdir(path.dirname(path.join(context, file)), { recursive: true });
      await cp(path.join(REPO, file), path.join(context, file));
      copied++;
    }
    expect(copied).toBeGreaterThan(10);
    expect(existsSync(path.join(context, 'test'))).toBe(false); // .dockerignore keeps tests out of the context

    const stages = new Map<string, Stage>();
    let stage: Stage | undefined;
    for (const instruction of instructions) {
      if (instruction.kind === 'FROM') {
        const root = path.join(temp, 'stages', instruction.stage);
        // What the base image provides that the steps rely on.
        await mkdir(path.join(root, 'usr/local/bin'), { recursive: true });
        stage = { name: instruction.stage, root, workdir: '/', env: {} };
        stages.set(instruction.stage, stage);
        continue;
      }
      if (!stage) throw new Error(`${instruction.kind} before FROM`);
      const current = stage;
      const resolve = (p: string) => (p.startsWith('/') ? inRoot(current.root, p) : path.join(inRoot(current.root, current.workdir), p));
      switch (instruction.kind) {
        case 'WORKDIR':
          current.workdir = path.posix.resolve(current.workdir, instruction.path);
          await mkdir(inRoot(current.root, current.workdir), { recursive: true });
          break;
        case 'ENV':
          Object.assign(current.env, instruction.vars);
          break;
        case 'USER':
          current.user = instruction.user;
          break;
        case 'CMD':
          current.cmd = instruction.argv;
          break;
        case 'HEALTHCHECK':
          current.healthcheck = { argv: instruction.argv, options: instruction.options };
          break;
        case 'COPY': {
          const fromRoot = instruction.from ? stages.get(instruction.from)?.root : undefined;
          if (instruction.from && !fromRoot) throw new Error(`COPY --from=${instruction.from}: no such stage`);
          const dest = resolve(instruction.dest);
          const intoDir = instruction.dest.endsWith('/') || instruction.sources.length > 1;
          for (const source of instruction.sources) {
            const from = fromRoot ? inRoot(fromRoot, source) : path.join(context, source);
            expect(existsSync(from), `COPY source ${source} exists`).toBe(true);
            const isDir = (await stat(from)).isDirectory();
            const target = intoDir && !isDir ? path.join(dest, path.basename(source)) : dest;
            await mkdir(isDir ? target : path.dirname(target), { recursive: true });
            await cp(from, target, { recursive: true });
          }
          break;
        }
        case 'RUN': {
          // Steps that change ownership need root and the image's user database: check that they name
          // the user the image runs as, and leave them out here.
          const steps = instruction.command.split('&&').map((s) => s.trim());
          for (const step of steps.filter((s) => s.startsWith('chown '))) {
            expect(step.split(/\s+/)[1]).toMatch(/^node(:node)?$/);
          }
          const command = rewriteRun(steps.filter((s) => !s.startsWith('chown ')).join(' && '), current.root);
          try {
            await run('/bin/sh', ['-c', command], {
              cwd: inRoot(current.root, current.workdir),
              env: { ...process.env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' },
              maxBuffer: 64 * 1024 * 1024,
            });
          } catch (error) {
            const failure = error as { stdout?: string; stderr?: string; message: string };
            throw new Error(`RUN ${instruction.command} failed in stage ${current.name}:\n${failure.stderr ?? ''}\n${failure.stdout ?? ''}`);
          }
          break;
        }
        default:
          break;
      }
    }

    const final = stage!;
    const app = inRoot(final.root, final.workdir);
    // Production dependencies only.
    expect(existsSync(path.join(app, 'node_modules/pino/package.json'))).toBe(true);
    expect(existsSync(path.join(app, 'node_modules/pg/package.json'))).toBe(true);
    expect(existsSync(path.join(app, 'node_modules/typescript'))).toBe(false);
    expect(existsSync(path.join(app, 'node_modules/vitest'))).toBe(false);
    expect(existsSync(path.join(app, 'src'))).toBe(false);
    expect(existsSync(path.join(app, 'config/tenants/example.yaml'))).toBe(true);

    const env = { ...process.env, NO_COLOR: '1', PATH: `${inRoot(final.root, '/usr/local/bin')}:${process.env.PATH}` };
    const help = await run(process.execPath, ['dist/src/cli.js', '--help'], { cwd: app, env });
    expect(help.stdout).toMatch(/Usage: hris-ingest/);
    expect(help.stdout).toMatch(/\bstart\b/);

    // CMD and HEALTHCHECK name a program the image provides.
    const [program, ...args] = final.cmd!;
    expect(args).toEqual(['start']);
    const startHelp = await run(inRoot(final.root, path.posix.join('/usr/local/bin', program!)), [...args, '--help'], { cwd: app, env });
    expect(startHelp.stdout).toMatch(/Usage: hris-ingest start/);
    const [healthProgram, ...healthArgs] = final.healthcheck!.argv;
    const healthHelp = await run(inRoot(final.root, path.posix.join('/usr/local/bin', healthProgram!)), [...healthArgs, '--help'], { cwd: app, env });
    expect(healthHelp.stdout).toMatch(/Usage: hris-ingest health/);
  });
});

describe('.env.example and docker-compose.example.yml', () => {
  const envExample = readFileSync(path.join(REPO, '.env.example'), 'utf8');

  it('.env.example lists every environment variable the app reads', () => {
    const listed = new Set([...envExample.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    for (const name of [...Object.keys(ENV_VARS), 'HRIS_CONFIG_DIR']) expect(listed, name).toContain(name);
  });

  it('no live line of .env.example overrides an ENV of the image (`docker run --env-file .env`)', () => {
    // --env-file wins over the image's ENV: a copied HTTP_HOST=127.0.0.1 would make the published port unreachable.
    const imageEnv = new Set(instructions.flatMap((i) => (i.kind === 'ENV' ? Object.keys(i.vars) : [])));
    expect(imageEnv).toContain('HTTP_HOST');
    // An env-file line is NAME=VALUE, or NAME alone (the value passed through from the host).
    const live = [...envExample.matchAll(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=|$)/gm)].map((m) => m[1]!);
    expect(live.filter((name) => imageEnv.has(name))).toEqual([]);
  });

  it('the compose example runs PostgreSQL, an SFTP server on 2022 and the poller wired to both', () => {
    const compose = parseYaml(readFileSync(path.join(REPO, 'docker-compose.example.yml'), 'utf8')) as {
      services: Record<string, { image?: string; ports?: string[]; environment?: Record<string, string>; build?: unknown }>;
    };
    expect(compose.services.postgres?.image).toMatch(/^postgres:/);
    expect(compose.services.sftp?.ports).toContain('2022:22');
    const poller = compose.services.poller!;
    expect(poller.build).toBeDefined();
    expect(poller.environment?.DATABASE_URL).toMatch(/^postgres:\/\/\S+@postgres:5432\//);
    expect(poller.environment?.DROP_HOST).toBe('sftp');
    for (const name of Object.keys(poller.environment ?? {})) expect(Object.keys(ENV_VARS), name).toContain(name);
  });
});
