import { calendarDate } from '../text/dates.js';

/** Name endings of uploads still in progress (WinSCP .filepart, rsync/lftp .part, ...). */
const IN_PROGRESS_SUFFIXES = new Set(['part', 'tmp', 'filepart', 'partial']);

/** A remote file as listed. */
export interface ListedFile {
  name: string;
  size: number;
  /** Seconds since the epoch (SFTP resolution). */
  mtime: number;
}

/** `*.csv` (or OpenPGP `*.pgp`, `*.gpg`, `*.asc`) in any case; not a dotfile; no in-progress marker anywhere in the name. */
export function isCandidateName(name: string): boolean {
  if (name.startsWith('.') || !/\.(csv|pgp|gpg|asc)$/i.test(name)) return false;
  const parts = name.toLowerCase().split('.').slice(1);
  return !parts.some((part) => IN_PROGRESS_SUFFIXES.has(part));
}

/**
 * The date a file name carries: ISO YYYY-MM-DD, or MM.DD.YYYY as in "All Active Personnel - 01.13.2023.csv"
 * (also with "-" or "_" between the parts). Null when there is none or it is not a real calendar date.
 */
export function fileNameDate(name: string): Date | null {
  for (const match of name.matchAll(/(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)/g)) {
    const date = calendarDate(Number(match[1]), Number(match[2]), Number(match[3]));
    if (date) return date;
  }
  for (const match of name.matchAll(/(?<!\d)(\d{2})[._-](\d{2})[._-](\d{4})(?!\d)/g)) {
    const date = calendarDate(Number(match[3]), Number(match[1]), Number(match[2]));
    if (date) return date;
  }
  return null;
}

/**
 * Processing order within a tenant: oldest first by the date in the name (a file without one counts by
 * its upload day), then by mtime, then by name.
 */
export function orderFiles<T extends ListedFile>(files: T[]): T[] {
  const keyed = files.map((file) => {
    const named = fileNameDate(file.name);
    const day = named
      ? Date.UTC(named.getFullYear(), named.getMonth(), named.getDate())
      : Math.floor(file.mtime / 86_400) * 86_400_000;
    return { file, day };
  });
  keyed.sort((a, b) => a.day - b.day || a.file.mtime - b.file.mtime || (a.file.name < b.file.name ? -1 : a.file.name > b.file.name ? 1 : 0));
  return keyed.map((k) => k.file);
}
