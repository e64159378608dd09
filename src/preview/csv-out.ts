import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { rename, rm } from 'node:fs/promises';
import { csvLine } from '../output/csv-line.js';

/**
 * One output file written as the engine's renderer writes it (src/output/render.ts): the header line, then
 * lines through csvLine, into FILE.part, renamed to FILE when complete.
 */
export class CsvOut {
  rows = 0;
  private readonly out: WriteStream;
  private readonly closed: Promise<unknown>;
  private buffered: string[] = [];

  constructor(readonly path: string, header: readonly string[]) {
    this.out = createWriteStream(`${path}.part`);
    this.closed = once(this.out, 'close');
    this.closed.catch(() => undefined);
    this.out.on('error', () => undefined); // surfaced by `closed`
    this.buffered.push(csvLine(header));
  }

  /** Lines buffered and not yet written. */
  get pending(): number {
    return this.buffered.length;
  }

  /** Buffers a line; flush() writes the buffer (awaiting the disk when it is behind). */
  add(cells: readonly string[]): void {
    this.rows++;
    this.buffered.push(csvLine(cells));
  }

  async flush(): Promise<void> {
    if (this.buffered.length === 0) return;
    const text = this.buffered.join('');
    this.buffered = [];
    if (!this.out.write(text)) await once(this.out, 'drain');
  }

  async close(): Promise<{ path: string; rows: number }> {
    await this.flush();
    this.out.end();
    await this.closed;
    await rename(`${this.path}.part`, this.path);
    return { path: this.path, rows: this.rows };
  }

  async discard(): Promise<void> {
    this.out.destroy();
    await this.closed.catch(() => undefined);
    await rm(`${this.path}.part`, { force: true });
  }
}
