import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';

/** One JSON log line of the daemon (pino). */
export type LogLine = Record<string, unknown> & { msg?: string };

/**
 * The real `hris-ingest start` from dist/, as a child process: its log lines are parsed and handed to
 * listeners (the soak arms its kills on them) and written to LOGFILE for a post-mortem.
 */
export class DaemonProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly listeners = new Set<(line: LogLine) => void>();
  private readonly log: WriteStream;
  private buffer = '';
  /** Set when the soak killed it (so an exit of its own is told apart). */
  killedBySoak = false;
  lines = 0;
  tail: string[] = [];

  constructor(cli: string, options: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }) {
    this.log = createWriteStream(options.logFile, { flags: 'a' });
    this.child = spawn(process.execPath, [cli, 'start', '--no-sample'], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => this.log.write(chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.log.write(chunk);
      this.buffer += chunk;
      let newline: number;
      while ((newline = this.buffer.indexOf('\n')) >= 0) {
        const text = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 1);
        this.lines++;
        this.tail.push(text);
        if (this.tail.length > 40) this.tail.shift();
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          continue;
        }
        for (const listener of [...this.listeners]) listener(line);
      }
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => this.log.end());
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  onLine(listener: (line: LogLine) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** SIGKILL now (synchronously: callable from inside the fake Slack's request handler). */
  killNow(): boolean {
    if (!this.alive) return false;
    this.killedBySoak = true;
    return this.child.kill('SIGKILL');
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.alive) {
      this.killedBySoak = true;
      this.child.kill(signal);
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }
}
