/**
 * Bounded text: every text the service builds from customer input (file names, header lists, error
 * lists, reasons) goes through these, so its length is capped where it is made, not checked later.
 * Lengths are UTF-16 code units (String.length): what JavaScript and Slack's limits count, and never
 * fewer than the characters a reader sees. Bottom layer: imports nothing from the project.
 */

export const ELLIPSIS = '…';

/** TEXT when it fits in MAX code units; else its start and an ellipsis, MAX units in all (no half surrogate pair). */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  if (max === 1) return ELLIPSIS;
  let end = max - 1;
  // Do not leave the high half of a surrogate pair before the ellipsis.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}${ELLIPSIS}`;
}

/** The "... and N more" line of a capped list. */
export function andMore(count: number, noun = ''): string {
  return `... and ${count.toLocaleString('en-US')} more${noun ? ` ${noun}` : ''}`;
}

/**
 * At most MAX items of ITEMS, each cut to ITEM_MAX; when there are more, a last line "... and N more"
 * (so at most MAX + 1 entries). TOTAL lets a caller with a known total (a count stored apart from the
 * first rows loaded) say how many there really are.
 */
export function capList(items: readonly string[], max: number, options: { itemMax?: number; total?: number; noun?: string } = {}): string[] {
  const shown = items.slice(0, Math.max(0, max)).map((item) => (options.itemMax === undefined ? item : cut(item, options.itemMax)));
  const total = Math.max(options.total ?? items.length, items.length);
  const rest = total - shown.length;
  return rest > 0 ? [...shown, andMore(rest, options.noun)] : shown;
}

/**
 * ITEMS joined by SEPARATOR into at most MAX_CHARS code units: as many whole items as fit (each first cut
 * to ITEM_MAX), then "... and N more" for the others. The result never exceeds MAX_CHARS.
 */
export function joinCapped(items: readonly string[], separator: string, maxChars: number, options: { itemMax?: number; noun?: string } = {}): string {
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; i < items.length; i++) {
    const item = options.itemMax === undefined ? items[i]! : cut(items[i]!, options.itemMax);
    const added = (parts.length > 0 ? separator.length : 0) + item.length;
    const left = items.length - i - 1;
    // Room for this item and, if others follow, for the tail that counts them.
    const tail = left > 0 ? separator.length + andMore(left, options.noun).length : 0;
    if (length + added + tail > maxChars) {
      const rest = andMore(items.length - i, options.noun);
      const joined = parts.length > 0 ? `${parts.join(separator)}${separator}${rest}` : rest;
      return cut(joined, maxChars);
    }
    parts.push(item);
    length += added;
  }
  return parts.join(separator);
}
