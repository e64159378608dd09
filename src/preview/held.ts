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
 * file's order, which need not be PREVIOUS's). The file is removed as soon as it is open (only this
 * process's descriptor reaches it), so no member data is left on disk however the process ends; it needs
 * free space in the temporary folder (TMPDIR) for the rows held, about their size in the file.
 */
export class HeldRows {
  private size = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private buffer = Buffer.alloc(16 * 1024);
  private readonly offsets: Float64Array;
  private readonly lengths: Int32Array;

  private constructor(
    private readonly fd: number,
    members: number,
  ) {
    this.offsets = new Float64Array(members);
    this.lengths = new Int32Array(members).fill(-1);
  }

  /** An empty store for MEMBERS members of PREVIOUS (member i is its i-th row). Close it when done. */
  static async open(members: number): Promise<HeldRows> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hris-preview-')).catch((error: unknown) => {
      throw heldRowsError(error);
    });
    try {
      return new HeldRows(openSync(path.join(dir, 'held-rows'), 'w+', 0o600), members);
    } catch (error) {
      throw heldRowsError(error);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Adds MEMBER's row (an error names the temporary folder: it may be full). */
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
    const length = this.lengths[member];
    if (!(length !== undefined && length >= 0)) throw new Error(`internal: previous member ${member} was not held`);
    this.writePending();
    if (this.buffer.length < length) this.buffer = Buffer.alloc(length * 2);
    let read = 0;
    while (read < length) {
      const n = readSync(this.fd, this.buffer, read, length - read, this.offsets[member]! + read);
      if (n === 0) throw new Error(`internal: the held row of previous member ${member} is cut short`);
      read += n;
    }
    try {
      return JSON.parse(this.buffer.toString('utf8', 0, length)) as string[];
    } catch {
      // Not the parser's message: it quotes the text, a member's data.
      throw new Error(`internal: the held row of previous member ${member} is damaged`);
    }
  }

  /** Closes the file (already removed: this frees its space). */
  async close(): Promise<void> {
    closeSync(this.fd);
  }

  private writePending(): void {
    if (this.pendingBytes === 0) return;
    const bytes = Buffer.concat(this.pending, this.pendingBytes);
    let written = 0;
    try {
      while (written < bytes.length) {
        const n = writeSync(this.fd, bytes, written, bytes.length - written, this.size + written);
        if (n === 0) throw new Error('nothing could be written');
        written += n;
      }
    } catch (error) {
      throw heldRowsError(error);
    }
    this.size += bytes.length;
    this.pending = [];
    this.pendingBytes = 0;
  }
}

/** A failure of the temporary file, with where it is and how to move it. */
function heldRowsError(cause: unknown): Error {
  return new Error(
    `preview --against keeps the previous rows it compares in a temporary file in ${os.tmpdir()} (set TMPDIR to move it): ${(cause as Error).message}`,
    { cause },
  );
}
