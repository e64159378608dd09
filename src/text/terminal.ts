/**
 * Customer text on a terminal (the CLI's human output, pretty-printed logs). A file name is the
 * customer's choice: with ESC in it, it could clear the screen, move the cursor or set a link; with a line
 * break, print a line of its own ("ACCEPTED"). Bottom layer: imports only ./bounded.
 */
import { cut } from './bounded.js';

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** TEXT with every control character (C0, DEL, C1) and line or paragraph separator shown as an escape (`\n`, `\x1b`, `\u2028`), cut to MAX. */
export function terminalText(text: string, max = Number.POSITIVE_INFINITY): string {
  // eslint-disable-next-line no-control-regex
  const escaped = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return NAMED[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`);
  });
  return Number.isFinite(max) ? cut(escaped, max) : escaped;
}

/** Longest file name the CLI prints (the console cuts at 80; an operator's terminal gets more). */
export const MAX_TERMINAL_NAME = 200;

/** A customer's file name for a terminal line: escaped, cut. */
export function terminalName(name: string): string {
  return terminalText(name, MAX_TERMINAL_NAME);
}
