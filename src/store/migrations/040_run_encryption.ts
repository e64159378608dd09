/**
 * Issue 14: how a run's file was encrypted (null: a plain file). jsonb: { armored, recipients, fingerprint,
 * keyId, signer } as src/csv/decrypt.ts records it; `runs show` and the --json summary carry it.
 */
export const sql = /* sql */ `
alter table runs add column encryption jsonb;
`;
