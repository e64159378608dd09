/**
 * Texts built from a customer's header row stay short whatever the file holds: a header of 20,000 columns
 * made a 270 KB error message and as many warnings (issue 10), which Slack refuses and nobody reads; a
 * 900 KB cell (under the 1 MiB record cap) was quoted whole in its issue, run_errors and the alert.
 */

import { cut as cutText } from '../text/bounded.js';

/** Longest customer text (a header name) quoted in a message. */
export const MAX_QUOTED = 80;
/** Longest cell value quoted in an issue (its value and message); the row keeps the whole value. */
export const MAX_VALUE = 200;
/** Most items listed in one message, and most header warnings per file. */
export const MAX_LISTED = 20;

/** TEXT cut to MAX characters, with an ellipsis when cut. */
export function cut(text: string, max = MAX_QUOTED): string {
  return cutText(text, max);
}

/**
 * TEXT as a quoted customer text in a message: cut to MAX, and each `"` in it shown as `”`, so that one
 * pair of quotes holds it whole. A file without its header row has member data there, and what shows
 * file-level messages to Slack, logs and viewers masks every quoted part (maskError in
 * src/text/mask.ts): a quote inside a header (`O"Neil`) paired with the wrong one and left the
 * cells after it in the clear.
 */
export function quoted(text: string, max = MAX_QUOTED): string {
  return `"${cut(text.replaceAll('"', '\u201D'), max)}"`;
}

/** The first MAX items joined, then "and N more". */
export function listed(items: readonly string[], max = MAX_LISTED): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown} and ${(items.length - max).toLocaleString('en-US')} more` : shown;
}

/** At most MAX warnings: the first MAX - 1, then one that counts the rest. */
export function boundedWarnings(warnings: string[], max = MAX_LISTED): string[] {
  if (warnings.length <= max) return warnings;
  return [...warnings.slice(0, max - 1), `… and ${(warnings.length - max + 1).toLocaleString('en-US')} more warnings about columns`];
}
