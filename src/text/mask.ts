/**
 * Member data out of the texts that show errors where a cell value must not go (Slack, logs, a viewer's
 * console page, the command line's error output): the value masked, email addresses masked, the text cut.
 * Bottom layer: imports only the bounded-text helpers.
 */
import { cut } from './bounded.js';

/** What masking needs of an error: its line (file-level or a row), the cell value it is about, the reason. */
export interface MaskableError {
  line: number | null;
  value: string | null;
  message: string;
}

const EMAIL_LIKE = /[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+/g;

/**
 * A reason with the offending value (and anything that looks like an email address) masked, at most MAX
 * characters. The value is masked on the whole text (linear), then the text is cut, then emails are
 * masked: that pattern backtracks, and on a 300 KB reason it ran for minutes (measured).
 */
export function maskValue(message: string, value: string | null, max = 1_000): string {
  let masked = message;
  const trimmed = value?.trim() ?? '';
  if (trimmed.length > 0) masked = masked.split(trimmed).join('[value]');
  // A cut that splits an address leaves its start: masked like a whole one (the @ and what follows are gone).
  masked = cut(masked, max).replace(/[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]*…$/, '[email]…');
  // The spec's own example address in a reason stays readable.
  return masked.replace(EMAIL_LIKE, (found) => (found === 'name@company.com' ? found : '[email]'));
}

/**
 * An error's reason without member data, at most MAX characters: the value masked (maskValue). A
 * file-level error (line 1, the header, or none) quotes header texts, and a file without its header row
 * has member data there: they become "…" as in the warnings (the texts are in `runs show`). A run's
 * reasons are file-level texts: the console shows them to a viewer through this too.
 */
export function maskError(e: MaskableError, max?: number): string {
  const fileLevel = e.line === null || e.line <= 1;
  // A quote right after "(" is the spec's display name of a field ("Email Address"), not the file's text;
  // a quote a cut left open (the console loads 1,000 characters of a message) is masked to the end.
  const message = fileLevel ? e.message.replace(/(\(?)"[^"]*(?:"|$)/g, (quoted, paren: string) => (paren ? quoted : '"…"')) : e.message;
  return maskValue(message, e.value, max);
}
