import type { Queryable } from './db.js';

/** What a run stores about its file's encryption (src/csv/decrypt.ts fills it in). */
export interface RunEncryption {
  armored: boolean;
  /** Key ids the file was encrypted to. */
  recipients: string[];
  /** Our key that decrypted it (null when it could not be decrypted). */
  fingerprint: string | null;
  keyId: string | null;
  /** Key id of the verified customer signature (only checked when the tenant names a signer key). */
  signer: string | null;
}

export async function recordRunEncryption(db: Queryable, runId: number, encryption: RunEncryption | undefined): Promise<void> {
  if (!encryption) return;
  const { armored, recipients, fingerprint, keyId, signer } = encryption;
  await db.query('update runs set encryption = $2 where id = $1', [runId, JSON.stringify({ armored, recipients, fingerprint, keyId, signer })]);
}
