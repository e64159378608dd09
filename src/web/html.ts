import { cut } from '../text/bounded.js';
/**
 * The one place HTML is made: `html` escapes every interpolated value unless it is itself the result of
 * `html` (a fragment built here), so customer text can only reach a page escaped.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

type Value = Html | string | number | boolean | null | undefined | readonly Value[];

function render(value: Value): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/** Longest customer value shown in a cell; the files carry the full text. */
export const CELL_MAX = 120;
/** Longest file name in a row of a list (runs, tenants); a run's own page shows more. */
export const FILE_NAME_CELL_MAX = 80;

/** A value cut to MAX characters ("…" marks the cut; text/bounded.ts `cut`, which splits no surrogate pair). */
export function clip(text: string, max = CELL_MAX): string {
  return cut(text, max);
}

/** A query string from parameters (empty ones dropped). */
export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}
