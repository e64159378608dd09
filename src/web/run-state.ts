import type { OutputKind } from '../output/names.js';
import type { Role } from '../store/console-users.js';
import type { RunRow } from '../store/runs.js';
import { allows } from './context.js';
import { clip, html, type Html } from './html.js';
import { statusBadge } from './layout.js';

/**
 * A run's status as the console shows it: a held run that a later accepted run superseded
 * (src/store/supersede.ts) reads "held, superseded by run N", linked; it no longer waits for a decision.
 */
export function runStatus(run: { source: string; status: string; superseded_by: number | null }): Html {
  if (run.source === 'baseline') return statusBadge('baseline');
  if (run.status === 'held' && run.superseded_by !== null) {
    return html`${statusBadge('held')} <span class="superseded">superseded by <a href="/runs/${run.superseded_by}">run ${run.superseded_by}</a></span>`;
  }
  return statusBadge(run.status);
}

/** In place of the decision forms: why a superseded held run can no longer be approved or rejected. */
export function supersededPanel(run: Pick<RunRow, 'id' | 'superseded_by'>): Html {
  return html`<div class="panel notice warn" role="status"><p><strong>Run ${run.id} no longer waits for a decision.</strong></p>
<p>A later file was accepted (<a href="/runs/${run.superseded_by}">run ${run.superseded_by}</a>), so this run's changes were computed against a state
that is gone: approving or rejecting it is moot. If its file is still wanted, upload it again to diff it against the current state.</p></div>`;
}

/** The run's OpenPGP facts (src/store/run-encryption.ts): packet format and key ids only, never content. */
export function encryptionFacts(run: Pick<RunRow, 'encryption'>): Html | null {
  const pgp = run.encryption;
  if (!pgp) return null;
  const to = pgp.keyId ? `our key ${clip(pgp.keyId, 40)}` : `key ${clip(pgp.recipients.slice(0, 5).join(', '), 200) || '(none named)'}`;
  const signer = pgp.signer ? `signature verified: key ${clip(pgp.signer, 40)}` : 'no signature checked';
  return html`<dt>Encryption</dt><dd>OpenPGP, ${pgp.armored ? 'armoured' : 'binary'}, encrypted to ${to}; ${signer}</dd>`;
}

/** What the console offers of a run's files: its KINDS, and whether they are a held run's, for review only. */
export interface OfferedFiles {
  kinds: OutputKind[];
  /** A held run's files: not for the platform (they come with the approval), named so. */
  review: boolean;
}

type FilesRun = Pick<RunRow, 'id' | 'status' | 'error_count' | 'superseded_by'> & { purged_at: Date | null };

/**
 * The one rule for a run's downloads, used by its page and by the download route. An accepted run's three
 * files are the alert's, for the csm role. A held run's would carry out what was held (a mass deletion): only
 * the operator deciding it gets them, for review, under names that say so; a superseded one's were computed
 * against a state that is gone, and none is offered. The errors file goes with any run that has errors.
 */
export function offeredFiles(run: FilesRun, role: Role): OfferedFiles {
  if (run.purged_at || !allows(role, 'csm')) return { kinds: [], review: false };
  const errors: OutputKind[] = run.error_count > 0 && run.status !== 'duplicate' ? ['errors'] : [];
  const changes: OutputKind[] = ['invites', 'updates', 'deletions'];
  if (run.status === 'accepted') return { kinds: [...changes, ...errors], review: false };
  if (run.status === 'held' && run.superseded_by === null && allows(role, 'operator')) return { kinds: [...changes, ...errors], review: true };
  return { kinds: errors, review: false };
}

/** A held run's file name, for review: NAME with "HELD run N, not approved" before its extension. */
export function reviewFileName(run: Pick<RunRow, 'id'>, name: string): string {
  return name.replace(/\.csv$/, '') + ` - HELD run ${run.id}, not approved.csv`;
}
