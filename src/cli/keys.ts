import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { configDir } from '../config/app.js';
import { generateTenantKey } from '../config/pgp-keys.js';
import { loadTenantFile } from '../config/tenant.js';
import { EXIT, UsageError } from './context.js';

interface GenerateOptions {
  tenant: string;
  out?: string;
  type: 'rsa' | 'ecc';
  passphraseEnv?: string;
  force?: boolean;
}

/** The passphrase variable a tenant's config names by default. */
export function defaultPassphraseEnv(tenantId: string): string {
  return `HRIS_PGP_PASSPHRASE_${tenantId.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/**
 * `hris-ingest keys generate --tenant ID`: a key pair for a tenant's encrypted files (issue 14). stdout
 * carries only the public key, the one thing to send the customer (`... > acme-public.asc`); what to do
 * next, and a generated passphrase, go to stderr.
 */
export function register(program: Command): void {
  const keys = program.command('keys').description("OpenPGP keys for tenants' encrypted files");
  keys
    .command('generate')
    .description('make a key pair for a tenant: writes the private key, prints the public key to send to the customer (stdout) and the config lines to add (stderr)')
    .requiredOption('--tenant <id>', 'tenant id (config/tenants/<id>.yaml; it need not exist yet)')
    .option('--out <file>', 'private key file (default <config dir>/keys/<id>.private.asc; the public key goes beside it as <id>.public.asc)')
    .option('--type <type>', 'rsa (RSA 4096, read by every PGP tool) or ecc (Curve25519)', (value: string) => {
      if (value !== 'rsa' && value !== 'ecc') throw new InvalidArgumentError('expected rsa or ecc.');
      return value;
    }, 'rsa')
    .option('--passphrase-env <name>', 'environment variable for the passphrase (default HRIS_PGP_PASSPHRASE_<ID>); when it is set, its value is used, else one is generated and printed once')
    .option('--force', 'overwrite an existing key file')
    .action(async (options: GenerateOptions) => {
      process.exitCode = await generate(options);
    });
}

async function generate(options: GenerateOptions): Promise<number> {
  const id = options.tenant;
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(id)) throw new UsageError(`bad tenant id "${id}": lower-case letters, digits, "-" or "_"`);
  const dir = configDir();
  const tenantFile = path.join(dir, 'tenants', `${id}.yaml`);
  const tenant = existsSync(tenantFile) ? await loadTenantFile(tenantFile) : undefined;
  const privateFile = path.resolve(options.out ?? path.join(dir, 'keys', `${id}.private.asc`));
  const publicFile = path.join(path.dirname(privateFile), `${id}.public.asc`);
  if (privateFile === publicFile) {
    throw new UsageError(`--out ${privateFile} is where the public key goes (${id}.public.asc beside the private key): name the private key file otherwise, e.g. ${id}.private.asc`);
  }
  for (const file of [privateFile, publicFile]) {
    if (existsSync(file) && !options.force) throw new UsageError(`${file} exists: a new key would lock out files encrypted to the old one; pass --force to replace it`);
  }
  const passphraseEnv = options.passphraseEnv ?? defaultPassphraseEnv(id);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(passphraseEnv)) throw new UsageError(`bad --passphrase-env "${passphraseEnv}": an environment variable name`);
  const given = process.env[passphraseEnv];
  const passphrase = given || randomBytes(24).toString('base64url');

  const key = await generateTenantKey({ userId: `hris-ingest ${tenant?.name ?? id} (${id})`, passphrase, type: options.type });
  await mkdir(path.dirname(privateFile), { recursive: true, mode: 0o700 });
  // writeFile's mode applies to a file it creates: one replaced (--force) kept its own, 644 say, for the new key
  await chmod(privateFile, 0o600).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  await writeFile(privateFile, key.privateKey, { mode: 0o600 });
  await writeFile(publicFile, key.publicKey, { mode: 0o644 });

  const relative = path.relative(path.dirname(tenantFile), privateFile);
  const lines = [
    `Key pair for tenant ${id}: ${options.type === 'ecc' ? 'Curve25519' : 'RSA 4096'}, fingerprint ${key.fingerprint}, files are encrypted to subkey ${key.encryptionKeyId}.`,
    `Private key: ${privateFile} (mode 600; back it up: files encrypted to this key cannot be read without it)`,
    `Public key:  ${publicFile} (printed on stdout): send it to the customer; they import it into their HR system's PGP settings and encrypt every file to it`,
    given
      ? `Passphrase:  the value of ${passphraseEnv}`
      : `Passphrase:  ${passphrase}\n             store it now in your secret store as ${passphraseEnv}; it is not saved anywhere`,
    '',
    `Add to ${tenantFile}${tenant ? '' : ' (the tenant file does not exist yet)'}:`,
    'pgp:',
    `  privateKeyFile: ${relative.startsWith('.') || path.isAbsolute(relative) ? relative : `./${relative}`}`,
    `  passphraseEnv: ${passphraseEnv}`,
    '  required: false              # true once the customer sends only encrypted files: plain CSVs are then rejected',
    "  # signerPublicKeyFile: ...   # the customer's public key: files must then be signed with it",
    `Then set ${passphraseEnv} where hris-ingest runs and check: hris-ingest config check`,
  ];
  process.stderr.write(`${lines.join('\n')}\n`);
  process.stdout.write(key.publicKey.endsWith('\n') ? key.publicKey : `${key.publicKey}\n`);
  return EXIT.ok;
}
