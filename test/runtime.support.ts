import { freePort } from './support/ports.js';
export { freePort } from './support/ports.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { CLI, REPO } from './support/cli.js';

export const SAMPLE = path.join(REPO, 'fixtures', '10KC Membership File - Your Organization Name - All Active Personnel - 01.13.2023.csv');


/** A running `hris-ingest start` child process with its output collected. */
export interface Service {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when TEST holds for the output so far; rejects when the process exits first or after timeoutMs. */
  waitFor(test: (out: { stdout: string; stderr: string }) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Sends SIGNAL and resolves with the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export function startService(options: { cwd: string; env: NodeJS.ProcessEnv; args?: string[]; command?: string }): Service {
  const child = spawn(process.execPath, [CLI, options.command ?? 'start', ...(options.args ?? [])], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of [...waiters]) waiter();
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    notify();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
    notify();
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor(test, what, timeoutMs = 90_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\nstdout:\n${stdout}\nstderr (tail):\n${stderr.slice(-4000)}`)), timeoutMs);
        const check = () => {
          if (test({ stdout, stderr })) finish();
          else if (hasExited) finish(new Error(`the service exited (code ${child.exitCode}) before ${what}\nstdout:\n${stdout}\nstderr (tail):\n${stderr.slice(-4000)}`));
        };
        const finish = (error?: Error) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
          else resolve();
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 60_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Every member's email and name in FILE (the strings no log line may contain). */
export function personalData(file: string): string[] {
  const rows = parse(readFileSync(file), { columns: true, skip_empty_lines: true }) as Array<Record<string, string>>;
  const values = new Set<string>();
  for (const row of rows) {
    for (const column of ['First Name', 'Last Name', 'Email Address', 'Employee ID', 'First Level Supervisor', 'Second Level Supervisor', 'Third Level Supervisor']) {
      const value = row[column]?.trim();
      if (value && value.length >= 3) values.add(value);
    }
    const full = `${row['First Name']} ${row['Last Name']}`.trim();
    if (full.length > 1) values.add(full);
  }
  return [...values];
}

/** JSON log lines as objects (non-JSON lines are kept as text). */
export function logLines(text: string): Array<Record<string, unknown> | string> {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        return line;
      }
    });
}
