import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Bytes of held rows gathered before they are written out. */
const WRITE_EVERY = 1 << 20;

/**
 * PREVIOUS's rows of the members a preview needs (compared or deleted), each one JSON array of its
 * values, in a temporary file with every member's place in it: on disk, not in memory. A file whose
 * columns changed compares every row (each row hash differs), and a million previous rows held as strings
 * took `preview --against` to 621 MB (docs/bench.md); now 12 bytes a member of PREVIOUS (offset and
 * length) whatever changed, and one positional read per row asked for (the rows are asked for in the next
 * file's order, which need not be PREVIOUS's).
 */
export class HeldRows {
  private size = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private buffer = Buffer.alloc(16 * 1024);
  private readonly offsets: Float64Array;
  private readonly lengths: Int32Array;

  private constructor(
    private readonly dir: string,
    private readonly fd: number,
    members: number,
  ) {
    this.offsets = new Float64Array(members);
    this.lengths = new Int32Array(members).fill(-1);
  }

  /** An empty store for MEMBERS members of PREVIOUS (member i is its i-th row). Close it when done. */
  static async open(members: number): Promise<HeldRows> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hris-preview-'));
    try {
      return new HeldRows(dir, openSync(path.join(dir, 'held-rows'), 'w+'), members);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  add(member: number, values: string[]): void {
    const bytes = Buffer.from(JSON.stringify(values), 'utf8');
    this.offsets[member] = this.size + this.pendingBytes;
    this.lengths[member] = bytes.length;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= WRITE_EVERY) this.writePending();
  }

  /** MEMBER's held row (it must have been added). */
  get(member: number): string[] {
    const length = this.lengths[member]!;
    if (length < 0) throw new Error(`internal: previous member ${member} was not held`);
    this.writePending();
    if (this.buffer.length < length) this.buffer = Buffer.alloc(length * 2);
    let read = 0;
    while (read < length) read += readSync(this.fd, this.buffer, read, length - read, this.offsets[member]! + read);
    return JSON.parse(this.buffer.toString('utf8', 0, length)) as string[];
  }

  /** Removes the temporary file. */
  async close(): Promise<void> {
    closeSync(this.fd);
    await rm(this.dir, { recursive: true, force: true });
  }

  private writePending(): void {
    if (this.pendingBytes === 0) return;
    const bytes = Buffer.concat(this.pending, this.pendingBytes);
    let written = 0;
    while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written, this.size + written);
    this.size += bytes.length;
    this.pending = [];
    this.pendingBytes = 0;
  }
}
