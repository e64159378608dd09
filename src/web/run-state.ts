import type { RunRow } from '../store/runs.js';
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
