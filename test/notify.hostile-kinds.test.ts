import { describe, expect, it } from 'vitest';
import { lateFileMessage } from '../src/notify/late-message.js';
import { pgpKeyMessage } from '../src/notify/pgp-message.js';
import { liveMarkup } from './support/fake-slack.js';

/**
 * The alert kinds built outside messages.ts (late file, our OpenPGP key) carry customer file names in
 * their notification line too: nothing in them may come alive in Slack (a mention pings the channel).
 */
const HOSTILE = '<!channel> <http://x|y> - 01.13.2023.csv.pgp';
const mentionsOrLinks = (message: { text: string; blocks: unknown[] }) =>
  liveMarkup({ text: message.text, blocks: message.blocks as never, mrkdwn: false }).filter((m) => m.kind === 'mention' || m.kind === 'link');

describe('customer file names in the late-file and OpenPGP-key alerts', () => {
  it('the pgp_key alert: no live mention or link in the text or the blocks; the name is still there, escaped', () => {
    const message = pgpKeyMessage({ tenant: 'acme', file: HOSTILE, error: 'the passphrase in HRIS_PGP_PASSPHRASE_ACME is wrong' });
    expect(mentionsOrLinks(message)).toEqual([]);
    expect(message.text).toContain('&lt;!channel&gt;');
    // Sanity: the raw name would be live (the check can fail).
    expect(liveMarkup({ text: HOSTILE, blocks: [], mrkdwn: false }).map((m) => m.kind)).toContain('mention');
  });

  it('the late_file alert: the last file name is escaped in the notification line', () => {
    const message = lateFileMessage({
      tenant: 'acme',
      name: 'Acme',
      every: '7 days',
      graceHours: 48,
      remind: true,
      timeZone: 'UTC',
      reminder: false,
      lastFile: HOSTILE,
      lastFileAt: '2026-11-01T10:00:00.000Z',
      watchedSince: null,
      expectedAt: '2026-11-08T10:00:00.000Z',
      missedWindows: 1,
      lateBySeconds: 3 * 86400,
      at: '2026-11-11T10:00:00.000Z',
      inbox: '/acme/inbox',
      waitingInInbox: 0,
      drop: null,
    } as Parameters<typeof lateFileMessage>[0]);
    expect(mentionsOrLinks(message)).toEqual([]);
    expect(message.text).toContain('&lt;!channel&gt;');
  });
});
