import { z } from 'zod';

/**
 * A tenant's OpenPGP set-up (issue 14). The private key is ours: the customer encrypts to its public half.
 * Paths are relative to the tenant file.
 */
export const pgpConfigSchema = z
  .object({
    /** Our private key (ASCII-armoured or binary), as `hris-ingest keys generate` writes it. */
    privateKeyFile: z.string().min(1),
    /** Name of the environment variable holding the key's passphrase (absent: the key is not protected). */
    passphraseEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name, e.g. HRIS_PGP_PASSPHRASE_ACME')
      .optional(),
    /** true: a file that is not encrypted is rejected. */
    required: z.boolean().default(false),
    /** The customer's public signing key: files must then be signed by it. */
    signerPublicKeyFile: z.string().min(1).optional(),
  })
  .strict();
export type PgpConfig = z.infer<typeof pgpConfigSchema>;

/**
 * Whether a plain (not encrypted) file is refused: `required`, or a signing key configured (a plain CSV
 * carries no signature, so anyone able to write to the inbox could otherwise replace the signed export).
 */
export function plainFilesRefused(pgp: PgpConfig | undefined): boolean {
  return Boolean(pgp && (pgp.required || pgp.signerPublicKeyFile));
}
