import { isoDay } from '../text/dates.js';

export type OutputKind = 'invites' | 'updates' | 'deletions' | 'errors';

export const OUTPUT_TITLES: Record<OutputKind, string> = {
  invites: 'potential invites',
  updates: 'profile updates',
  deletions: 'profile deletions',
  errors: 'validation errors',
};

/** "acme 2023-01-13 profile updates.csv"; without a date: "acme profile updates.csv". */
export function outputFileName(tenantId: string, fileDate: Date | null, kind: OutputKind): string {
  const parts = [tenantId, ...(fileDate ? [isoDay(fileDate)] : []), OUTPUT_TITLES[kind]];
  return `${parts.join(' ')}.csv`;
}
