import { fileDateFromName } from '../output/file-date.js';

/** Name endings of uploads still in progress (WinSCP .filepart, rsync/lftp .part, ...). */
const IN_PROGRESS_SUFFIXES = new Set(['part', 'tmp', 'filepart', 'partial']);

/** A remote file as listed. */
export interface ListedFile {
  name: string;
  size: number;
  /** Seconds since the epoch (SFTP resolution). */
  mtime: number;
}

/** The remote file's STAT still shows what was listed: same size and mtime (SFTP's whole seconds). */
export function stillListed(stat: { size: number; modifyTime: number }, listed: { size: number; mtime: number }): boolean {
  return stat.size === listed.size && Math.floor(stat.modifyTime / 1000) === listed.mtime;
}

/** `*.csv` (or OpenPGP `*.pgp`, `*.gpg`, `*.asc`) in any case; not a dotfile; no in-progress marker anywhere in the name. */
export function isCandidateName(name: string): boolean {
  if (name.startsWith('.') || !/\.(csv|pgp|gpg|asc)$/i.test(name)) return false;
  const parts = name.toLowerCase().split('.').slice(1);
  return !parts.some((part) => IN_PROGRESS_SUFFIXES.has(part));
}

/**
 * Processing order within a tenant: oldest first by the date in the name (a file without one counts by
 * its upload day), then by mtime, then by name.
 */
export function orderFiles<T extends ListedFile>(files: T[]): T[] {
  const keyed = files.map((file) => {
    const named = fileDateFromName(file.name);
    const day = named
      ? Date.UTC(named.getFullYear(), named.getMonth(), named.getDate())
      : Math.floor(file.mtime / 86_400) * 86_400_000;
    return { file, day };
  });
  keyed.sort((a, b) => a.day - b.day || a.file.mtime - b.file.mtime || (a.file.name < b.file.name ? -1 : a.file.name > b.file.name ? 1 : 0));
  return keyed.map((k) => k.file);
}
