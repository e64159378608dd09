import { Readable } from 'node:stream';
import type * as OpenPGP from 'openpgp';
import type { PgpConfig } from '../config/pgp.js';
import { keyIdText, loadOpenpgp, readSignerKey, readTenantKey, unlockTenantKey, type SignerKey } from '../config/pgp-keys.js';
import type { ValidationIssue } from './types.js';

/** Names of OpenPGP files: binary (.pgp, .gpg) or ASCII-armoured (.asc); the content decides which it is. */
const ENCRYPTED_NAME = /\.(pgp|gpg|asc)$/i;

export function isEncryptedName(name: string): boolean {
  return ENCRYPTED_NAME.test(name);
}

/** What a run records about an encrypted file (filled in as decryption gets to know it). */
export interface EncryptionRecord {
  armored: boolean;
  /** Key ids the file says it is encrypted to. */
  recipients: string[];
  /** Our key that decrypted it: the primary key's fingerprint and the (sub)key id the file named. */
  fingerprint: string | null;
  keyId: string | null;
  /** Key id of the customer's signature that verified (only checked with pgp.signerPublicKeyFile). */
  signer: string | null;
  /** Plaintext bytes released to the reader. */
  plaintextBytes: number;
}

/**
 * The file cannot be used: the customer must fix or re-send it (encrypted to another key, damaged,
 * truncated, not signed by the expected key). The run is rejected with ISSUE.
 */
export class PgpFileError extends Error {
  override name = 'PgpFileError';
  constructor(readonly issue: ValidationIssue) {
    super(issue.message);
  }
}

const WILDCARD = '0000000000000000'; // gpg --throw-keyids / hidden recipient

export interface DecryptingInput {
  /** The plaintext CSV bytes; errors with PgpFileError (customer) or PgpKeyError (ours) or the input's own I/O error. */
  plaintext: Readable;
  record: EncryptionRecord;
}

/**
 * The largest plaintext an OpenPGP file may decrypt to. A compressed message can expand a thousandfold: a
 * few megabytes uploaded could keep a worker busy for hours. 4 GiB is 25 times a million-row file (165 MB).
 */
export const MAX_PLAINTEXT_BYTES = 4 * 1024 ** 3;

/**
 * Decrypts an OpenPGP message as a stream: nothing is written to disk and memory does not grow with the
 * file. The plaintext is released BEFORE the integrity check (MDC) at the end of the message has been
 * verified (openpgp's allowUnauthenticatedStream; without it openpgp holds the whole plaintext in memory:
 * decrypting the 100k-row bench file (16 MB) peaked at 106 MB RSS buffered against 77 MB streamed, and the
 * buffered figure grows with the file).
 * The check's failure, like a bad signature, arrives as an error at the END of the plaintext stream: the
 * reader must then treat everything it read as unusable (src/csv/open.ts turns it into the file's fatal
 * issue, so the run is rejected and nothing is applied).
 */
export function decryptInput(
  input: Readable,
  tenant: { id: string; pgp?: PgpConfig | undefined },
  env: NodeJS.ProcessEnv = process.env,
  maxPlaintextBytes = MAX_PLAINTEXT_BYTES,
): DecryptingInput {
  const record: EncryptionRecord = { armored: false, recipients: [], fingerprint: null, keyId: null, signer: null, plaintextBytes: 0 };
  const plaintext = Readable.from(plaintextChunks(input, tenant, env, record, maxPlaintextBytes), { objectMode: false });
  return { plaintext, record };
}

const fileError = (line: number, message: string, value = '') => new PgpFileError({ line, column: '', value, message });

async function* plaintextChunks(
  input: Readable,
  tenant: { id: string; pgp?: PgpConfig | undefined },
  env: NodeJS.ProcessEnv,
  record: EncryptionRecord,
  maxPlaintextBytes: number,
): AsyncGenerator<Buffer> {
  let inputError: Error | undefined;
  input.once('error', (error) => (inputError = error));
  const source = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const head = await peek(source, 32);
  if (head.length === 0) throw fileError(1, 'the file is empty: expected an OpenPGP-encrypted membership file');
  record.armored = head.toString('latin1').trimStart().startsWith('-----BEGIN PGP');
  if (!tenant.pgp) {
    throw fileError(
      1,
      `the file is named as an OpenPGP-encrypted file (.pgp, .gpg or .asc), but tenant ${tenant.id} is not set up for encrypted files: ` +
        'upload the plain CSV, or ask us for the public key to encrypt to',
    );
  }
  const web = Readable.toWeb(Readable.from(rest(head, source), { objectMode: false })) as unknown as ReadableStream<Uint8Array>;
  const openpgp = await loadOpenpgp();
  let message: OpenPGP.Message<ReadableStream<Uint8Array> | ReadableStream<string>>;
  try {
    message = record.armored
      ? await openpgp.readMessage({ armoredMessage: web.pipeThrough(new TextDecoderStream()) as never })
      : await openpgp.readMessage({ binaryMessage: web as never });
  } catch (error) {
    throw inputError ?? describe(error, 1, null);
  }
  record.recipients = message.getEncryptionKeyIDs().map(keyIdText);
  const ours = await readTenantKey(tenant.id, tenant.pgp);
  const match = record.recipients.find((id) => ours.keyIds.includes(id));
  if (!match && !record.recipients.includes(WILDCARD)) throw notOurKey(record.recipients, ours);
  const key = await unlockTenantKey(tenant.id, tenant.pgp, env);
  const signer = await readSignerKey(tenant.id, tenant.pgp);
  record.fingerprint = key.fingerprint;
  record.keyId = match ?? key.encryptionKeyIds[0] ?? null;

  let lines = 1;
  let result;
  try {
    result = await openpgp.decrypt({
      message,
      decryptionKeys: key.privateKey,
      format: 'binary',
      config: { allowUnauthenticatedStream: true, maxDecompressedMessageSize: maxPlaintextBytes },
      ...(signer ? { verificationKeys: signer.key, expectSigned: true } : {}),
    });
  } catch (error) {
    if (!match && /decrypt|session key/i.test((error as Error).message)) throw notOurKey(record.recipients, ours);
    throw inputError ?? describe(error, lines, signer, maxPlaintextBytes);
  }
  // Settled with the stream; without a signer key nobody awaits them (and an unverifiable one rejects).
  for (const signature of result.signatures) signature.verified.catch(() => undefined);
  try {
    for await (const chunk of Readable.fromWeb(result.data as never) as AsyncIterable<Uint8Array>) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      record.plaintextBytes += buffer.length;
      // openpgp's own cap (maxDecompressedMessageSize) covers compressed messages only
      if (record.plaintextBytes > maxPlaintextBytes) throw tooLarge(lines, maxPlaintextBytes);
      for (let at = buffer.indexOf(10); at !== -1; at = buffer.indexOf(10, at + 1)) lines++;
      yield buffer;
    }
  } catch (error) {
    throw inputError ?? describe(error, lines, signer, maxPlaintextBytes);
  }
  if (inputError) throw inputError;
  if (signer) record.signer = await verifiedSigner(result.signatures);
}

/** Reads from SOURCE until at least MIN bytes (or the end) are there; they are given back by rest(). */
async function peek(source: AsyncIterator<Buffer | string>, min: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let length = 0;
  while (length < min) {
    const next = await source.next();
    if (next.done) break;
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    parts.push(chunk);
    length += chunk.length;
  }
  return Buffer.concat(parts);
}

async function* rest(head: Buffer, source: AsyncIterator<Buffer | string>): AsyncGenerator<Buffer> {
  yield head;
  for (;;) {
    const next = await source.next();
    if (next.done) return;
    yield typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
  }
}

async function verifiedSigner(signatures: { keyID: { toHex(): string }; verified: Promise<unknown> }[]): Promise<string | null> {
  for (const signature of signatures) {
    if (await signature.verified.then(() => true, () => false)) return keyIdText(signature.keyID);
  }
  return null;
}

function notOurKey(recipients: string[], ours: { fingerprint: string; encryptionKeyIds: string[] }): PgpFileError {
  const named = recipients.map((id) => (id === WILDCARD ? `${id} (a hidden recipient)` : id));
  const to = recipients.length === 0 ? 'no public key (a password-encrypted or only signed message)' : `key ${named.join(', ')}`;
  return fileError(
    1,
    `the file is encrypted to ${to}, but this tenant's key is ${ours.encryptionKeyIds.join(', ')} (fingerprint ${ours.fingerprint}): ` +
      'encrypt the file to the public key we sent you for this integration',
    recipients.join(' '),
  );
}

/** openpgp's error, as what the customer has to do. LINE: the plaintext line where it stopped. */
function describe(error: unknown, line: number, signer: SignerKey | null, maxPlaintextBytes = MAX_PLAINTEXT_BYTES): PgpFileError {
  const text = (error as Error)?.message ?? String(error);
  const where = line > 1 ? ` (after ${line - 1} line(s) of the membership data)` : '';
  const resend = 'nothing in it was used; upload the complete file again';
  if (error instanceof PgpFileError) return error;
  if (/Maximum decompressed message size exceeded/i.test(text)) return tooLarge(line, maxPlaintextBytes);
  const signedBy = /signing key with key ID ([0-9a-f]{16})/i.exec(text);
  if (signedBy && signer) {
    return fileError(
      line,
      `the file is signed by key ${signedBy[1]!.toUpperCase()}, but this tenant accepts only files signed by key ${signer.fingerprint}: sign it with the key you registered with us`,
      signedBy[1]!.toUpperCase(),
    );
  }
  if (/not signed/i.test(text)) {
    return fileError(line, `the file is not signed: this tenant requires files signed by key ${signer?.fingerprint ?? '(the registered signer key)'}; encrypt and sign the file`);
  }
  if (/signature|signed digest|digest did not match/i.test(text)) {
    return fileError(line, `the file's signature does not verify${where}: the file was changed after it was signed, or signed with another key; ${resend}`);
  }
  if (/Modification detected|authentication tag|integrity/i.test(text)) {
    return fileError(line, `the encrypted data is corrupt: its integrity check failed${where}; the file was damaged or changed after encryption; ${resend}`);
  }
  if (/Unexpected end|Misformed armored|end of (packet|stream)|premature|truncat/i.test(text)) {
    return fileError(line, `the encrypted file is incomplete: it ends in the middle of the encrypted data${where} (a truncated or interrupted upload?); ${resend}`);
  }
  if (/does not conform to a valid OpenPGP|Unknown ASCII armor|not an? .*message|Error during parsing/i.test(text)) {
    return fileError(line, `the file is not a valid OpenPGP message (damaged, or not encrypted although named .pgp/.gpg/.asc): ${oneLine(text)}`);
  }
  return fileError(line, `the file cannot be decrypted${where}: ${oneLine(text)}; ${resend}`);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}

/** A file over the plaintext cap, whether openpgp's decompression or our count found it. */
function tooLarge(line: number, maxPlaintextBytes: number): PgpFileError {
  return fileError(
    line,
    `the file decrypts to more than ${megabytes(maxPlaintextBytes)} (a million-row membership file is about 165 MB): ` +
      'it was not read further and nothing in it was used; check the export and upload the membership CSV alone',
  );
}

function megabytes(bytes: number): string {
  const [unit, size] = bytes >= 1024 ** 3 ? ['GiB', 1024 ** 3] : bytes >= 1024 ** 2 ? ['MiB', 1024 ** 2] : ['KiB', 1024];
  return `${(bytes / size).toLocaleString('en-US', { maximumFractionDigits: 1 })} ${unit}`;
}
