import { isUtf8 } from 'node:buffer';
import { SNIFF_BYTES, sniffFileStart } from './sniff.js';

export interface Utf8Failure {
  /** 1-based line of the first invalid byte. */
  line: number;
  /** The offending bytes in hex, e.g. "0xE9". */
  bytes: string;
  message: string;
}

const NEWLINE = 10;
const CR = 13;

function countNewlines(buf: Uint8Array, end = buf.length): number {
  let count = 0;
  let at = buf.indexOf(NEWLINE);
  while (at !== -1 && at < end) {
    count++;
    at = buf.indexOf(NEWLINE, at + 1);
  }
  return count;
}

/** Length of an incomplete UTF-8 sequence at the end of buf (0 when it ends on a character boundary). */
function incompleteTail(buf: Uint8Array): number {
  const end = buf.length;
  for (let back = 1; back <= 3 && back <= end; back++) {
    const byte = buf[end - back] as number;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: look further back
    // ASCII, or a byte that can never start a sequence (C0, C1, F5-FF): the validator rejects it right away
    if (byte < 0xc2 || byte > 0xf4) return 0;
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
    return back < needed ? back : 0;
  }
  return 0;
}

/** Offset of the first byte that does not start a valid UTF-8 sequence (buf is known to be invalid). */
function firstInvalid(buf: Uint8Array): { at: number; length: number } {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let needed = 0;
    let min = 0;
    if (b >= 0xc2 && b <= 0xdf) (needed = 1), (min = 0x80);
    else if (b >= 0xe0 && b <= 0xef) (needed = 2), (min = 0x800);
    else if (b >= 0xf0 && b <= 0xf4) (needed = 3), (min = 0x10000);
    else return { at: i, length: 1 };
    let cp = b & (0x3f >> needed);
    for (let k = 1; k <= needed; k++) {
      const c = buf[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return { at: i, length: k };
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return { at: i, length: needed + 1 };
    i += needed + 1;
  }
  return { at: buf.length, length: 0 };
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`).join(' ');
}

/** An overlong encoding (a character written with more bytes than needed) starts at AT. */
function overlongAt(buf: Uint8Array, at: number): boolean {
  const b = buf[at] as number;
  const next = buf[at + 1];
  if (next === undefined || (next & 0xc0) !== 0x80) return false;
  return b === 0xc0 || b === 0xc1 || (b === 0xe0 && next < 0xa0) || (b === 0xf0 && next < 0x90);
}

function failure(line: number, bytes: Uint8Array, overlong = false): Utf8Failure {
  const first = bytes[0] ?? 0;
  // A lone byte in A0-FF is what Latin-1 / Windows-1252 exports produce for accented letters.
  const latin1 = !overlong && bytes.length === 1 && first >= 0xa0;
  const hint = overlong
    ? 'an overlong encoding, which UTF-8 forbids: export the file as UTF-8 again'
    : latin1
      ? 'the file looks Latin-1/Windows-1252 encoded: export it as UTF-8'
      : 'export the file as UTF-8';
  return {
    line,
    bytes: hex(bytes),
    message: `the file is not valid UTF-8: byte ${hex(bytes)} on line ${line} (${hint})`,
  };
}

/**
 * Strict streaming UTF-8 check. push() takes raw chunks and returns the bytes that are safe to parse
 * (a character split across chunks is held back until its end arrives); end() checks nothing is left over.
 * Newlines are counted as bytes pass so that a bad byte can be reported with its line.
 */
export class Utf8Guard {
  private newlines = 0;
  private carry: Buffer | null = null;
  failure: Utf8Failure | null = null;
  /** Found, but the bytes before it are handed on first (see failAt). */
  private deferred: Utf8Failure | null = null;

  /** The file's first bytes (up to SNIFF_BYTES), for src/csv/sniff.ts; null once they have been looked at. */
  private head: Buffer | null = Buffer.alloc(0);

  /** Newlines (LF) seen so far in the bytes that passed. */
  get newlinesSeen(): number {
    return this.newlines;
  }

  private loneCr = false;
  private crAtEnd = false;

  /**
   * A carriage return not followed by a line feed passed before the first line feed: the first line ends
   * CR-only (src/csv/read.ts names that rather than the quoting problem it causes). Decided by the bytes
   * alone, not by how far the reading has got, so the message does not depend on where chunks were cut.
   */
  get loneCrSeen(): boolean {
    return this.loneCr;
  }

  private noteCr(out: Buffer): void {
    if (this.loneCr || this.newlines > 0 || out.length === 0) return;
    if (this.crAtEnd && out[0] !== NEWLINE) this.loneCr = true;
    const lf = out.indexOf(NEWLINE);
    const end = lf === -1 ? out.length : lf;
    for (let cr = out.indexOf(CR); cr !== -1 && cr < end; cr = out.indexOf(CR, cr + 1)) {
      if (cr + 1 < out.length && out[cr + 1] !== NEWLINE) this.loneCr = true;
    }
    this.crAtEnd = out[out.length - 1] === CR;
  }

  push(chunk: Buffer): Buffer | null {
    if (this.failure) return null;
    if (this.deferred) {
      this.failure = this.deferred;
      return null;
    }
    if (this.head !== null && chunk.length > 0 && this.sniff(chunk)) return null;
    let buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = null;
    // NUL is valid UTF-8 but never part of a CSV text export: it means UTF-16 without a BOM, or binary data.
    const nul = buf.indexOf(0);
    if (nul !== -1) {
      // whichever comes first, a NUL or an invalid sequence before it
      const before = buf.subarray(0, nul);
      if (!isUtf8(before)) return this.invalidAt(before);
      const line = this.newlines + countNewlines(buf, nul) + 1;
      return this.failAt(buf, nul, {
        line,
        bytes: '0x00',
        message: `the file contains a NUL byte (0x00) on line ${line}: it looks UTF-16 encoded or binary; export it as CSV UTF-8`,
      });
    }
    const tail = incompleteTail(buf);
    if (tail > 0) {
      this.carry = Buffer.from(buf.subarray(buf.length - tail));
      buf = buf.subarray(0, buf.length - tail);
    }
    if (!isUtf8(buf)) return this.invalidAt(buf);
    this.noteCr(buf);
    this.newlines += countNewlines(buf);
    return buf;
  }

  /** BUF is not valid UTF-8: fails at its first invalid sequence. */
  private invalidAt(buf: Buffer): Buffer | null {
    const { at, length } = firstInvalid(buf);
    return this.failAt(buf, at, failure(this.newlines + countNewlines(buf, at) + 1, buf.subarray(at, at + Math.max(length, 1)), overlongAt(buf, at)));
  }

  /**
   * Fails at offset AT of BUF. The bytes before it still pass, and the failure shows from the next push() or
   * end(): so the verdict is the first problem in the file, however the input was cut into chunks (a broken
   * record before the bad byte, or a header without the required columns, comes first).
   */
  private failAt(buf: Buffer, at: number, problem: Utf8Failure): Buffer | null {
    this.carry = null;
    if (at === 0) {
      this.failure = problem;
      return null;
    }
    this.deferred = problem;
    const passed = buf.subarray(0, at);
    this.noteCr(passed);
    this.newlines += countNewlines(passed);
    return passed;
  }

  /** True when the file's first bytes say it is not a text file at all (then the failure says what it is). */
  private sniff(chunk: Buffer): boolean {
    const head = this.head as Buffer;
    const start = head.length === 0 ? chunk.subarray(0, SNIFF_BYTES) : Buffer.concat([head, chunk.subarray(0, SNIFF_BYTES - head.length)]);
    const kind = sniffFileStart(start, head.length === 0 ? chunk : start);
    // Usually decided on the first chunk; a file read in tiny chunks is looked at again until SNIFF_BYTES arrived.
    this.head = start.length < SNIFF_BYTES ? Buffer.from(start) : null;
    if (kind) this.failure = { line: 1, bytes: kind.value, message: kind.message };
    return kind !== null;
  }

  end(): void {
    if (this.deferred && !this.failure) this.failure = this.deferred;
    if (this.failure || !this.carry) return;
    this.failure = failure(this.newlines + 1, this.carry);
    this.failure.message = `the file is not valid UTF-8: it ends inside a multi-byte character (${this.failure.bytes}) on line ${this.failure.line} (export the file as UTF-8)`;
    this.carry = null;
  }
}
