import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { TenantConfig } from '../config/tenant.js';
import { plainFilesRefused } from '../config/pgp.js';
import { decryptInput, isEncryptedName, PgpFileError, type EncryptionRecord } from './decrypt.js';
import { readMembershipFile, type MembershipFileReading } from './read.js';
import type { FileHeader, ReadBatch, ReadOptions, ReadTotals, ValidationIssue } from './types.js';

/** Where the pipeline learns whether (and how) the file it opened was encrypted. */
export interface OpenedFile {
  encryption?: EncryptionRecord;
}

/**
 * Opens a membership file for reading: an OpenPGP file (.pgp, .gpg, .asc) is decrypted as a stream into
 * the same reader; a plain file goes to the reader as it is, unless the tenant requires encryption.
 * A file the customer must fix (wrong key, damaged, not signed, not encrypted when required) comes back
 * as the reading's fatal issue, like any unreadable file; our own key problems (PgpKeyError) and I/O
 * errors reject the totals, so the run fails and the file is taken again later.
 */
export function openMembershipFile(
  file: { name: string; open(): Readable },
  tenant: TenantConfig,
  options: ReadOptions = {},
  opened: OpenedFile = {},
  env: NodeJS.ProcessEnv = process.env,
): MembershipFileReading {
  if (isEncryptedName(file.name)) {
    const { plaintext, record } = decryptInput(file.open(), tenant, env, options.maxPlaintextBytes);
    opened.encryption = record;
    return fatalOnFileError(readMembershipFile(plaintext, tenant, options), record);
  }
  const howTo = 'encrypt it to the public key we sent you and upload it with its .pgp (or .gpg, .asc) name, e.g. "... - 01.13.2023.csv.pgp"';
  if (!plainFilesRefused(tenant.pgp)) return readMembershipFile(file.open(), tenant, options);
  return refusedPlain(
    tenant.pgp?.required
      ? `the file is not encrypted, but this tenant accepts only OpenPGP-encrypted files: ${howTo}`
      : `the file is not encrypted and signed, but this tenant accepts only files signed with its key: sign it with your key, ${howTo}`,
  );
}

/** A plain file this tenant does not take: refused on its first line. */
function refusedPlain(message: string): MembershipFileReading {
  return refused({ line: 1, column: '', value: '', message });
}

/**
 * The content hash of a run whose file could not be decrypted: never the hash of any real content, so
 * such a run is never taken for a duplicate of an accepted one (the engine checks duplicates first).
 */
function failureHash(issue: ValidationIssue): string {
  return createHash('sha256').update(`hris-ingest: unusable encrypted file\0${issue.message}`).digest('hex');
}

function refused(issue: ValidationIssue): MembershipFileReading {
  const empty = async function* (): AsyncGenerator<ReadBatch> {};
  return {
    header: Promise.resolve({ columns: [], warnings: [] }),
    batches: empty(),
    totals: Promise.resolve({ sha256: failureHash(issue), bytes: 0, records: 0, fatal: issue }),
  };
}

/**
 * The reader rejects on any error of its input; a PgpFileError, which may come after rows were already
 * read (the integrity check and the signature are verified at the end of the stream), becomes the fatal
 * issue instead: the batches end there, and the totals say the file is unusable.
 */
function fatalOnFileError(inner: MembershipFileReading, record: EncryptionRecord): MembershipFileReading {
  let failure: PgpFileError | undefined;
  let records = 0;
  const note = (error: unknown) => {
    if (!(error instanceof PgpFileError)) throw error;
    failure ??= error;
  };
  const header = inner.header.catch((error: unknown): FileHeader => {
    note(error);
    return { columns: [], warnings: [] };
  });
  async function* batches(): AsyncGenerator<ReadBatch> {
    try {
      for await (const batch of inner.batches) {
        records += batch.rows.length + batch.invalid.length;
        yield batch;
      }
    } catch (error) {
      note(error);
    }
  }
  const totals = inner.totals.then(
    (done: ReadTotals): ReadTotals => done,
    (error: unknown): ReadTotals => {
      note(error);
      const issue = failure!.issue;
      return { sha256: failureHash(issue), bytes: record.plaintextBytes, records, fatal: issue };
    },
  );
  header.catch(() => undefined);
  totals.catch(() => undefined);
  return { header, batches: batches(), totals };
}
