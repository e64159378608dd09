import type { AlertMessage, Block } from './notifier.js';
import { literal, notificationText } from './messages.js';

export interface PgpKeyPayload {
  tenant: string;
  file: string;
  /** PgpKeyError's message: names the key file and the passphrase variable, never file content. */
  error: string;
}

// 500: the key error names the key file's path and the passphrase variable.
const code = (text: string) => literal(text, 500);

/**
 * An encrypted file could not be read because of OUR key set-up (issue 14): an operator problem, not the
 * customer's. The file was not rejected: it stays in the inbox and is taken again on every poll.
 */
export function pgpKeyMessage(payload: PgpKeyPayload, options: { channel?: string } = {}): AlertMessage {
  // Escaped and cut like every alert's notification line (a file name may hold <!channel>).
  const text = notificationText(
    `${payload.tenant}: encrypted file ${payload.file} cannot be decrypted with our key: ${payload.error}. ` +
      'It stays in the inbox (not rejected) and is taken again once the key works.',
  );
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: `${payload.tenant}: our OpenPGP key does not work`.slice(0, 150) } },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text:
          `*File:* ${code(payload.file)} (encrypted) was not read: ${code(payload.error)}.\n` +
          'This is our set-up, not the customer’s file: nothing was rejected, the file stays in the inbox, and later files of this tenant wait behind it.',
      },
    },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*What to do:* fix the tenant’s ${code('pgp')} settings (the private key file, the passphrase variable), check with ${code('hris-ingest config check')}, then the next poll takes the file.`,
      },
    },
  ];
  return { kind: 'pgp_key', text, blocks, attach: [], ...(options.channel ? { channel: options.channel } : {}) };
}
