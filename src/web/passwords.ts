import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

// scrypt cost N=2^15, r=8, p=1: ~50 ms and 32 MiB per check on the build host; a guess costs the same.
const PARAMS = { N: 32768, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const MAX_MEMORY = 64 * 1024 * 1024;

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, { ...options, maxmem: MAX_MEMORY }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** "scrypt$N$r$p$salt$hash", salt and hash in base64. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, PARAMS);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** A hash of nothing anyone knows: checked for unknown names so they take as long as known ones. */
let dummyHash: Promise<string> | undefined;

/** Constant-time check; HASH null (unknown user) still costs one scrypt and answers false. */
export async function verifyPassword(password: string, hash: string | null): Promise<boolean> {
  const stored = hash ?? (await (dummyHash ??= hashPassword(randomBytes(16).toString('hex'))));
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, key] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(key, 'base64');
  const actual = await derive(password, Buffer.from(salt, 'base64'), { N: Number(n), r: Number(r), p: Number(p) });
  return actual.length === expected.length && timingSafeEqual(actual, expected) && hash !== null;
}

/** A password to print once (first operator): 20 characters from a 128-bit random value. */
export function oneTimePassword(): string {
  return randomBytes(15).toString('base64url');
}
