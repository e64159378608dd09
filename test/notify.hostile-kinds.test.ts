import { describe, expect, it } from 'vitest';
import { configProblemMessage, supersededMessage } from '../src/notify/engine-messages.js';
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
    const message = lateFileMessage(latePayload(HOSTILE));
    expect(mentionsOrLinks(message)).toEqual([]);
    expect(message.text).toContain('&lt;!channel&gt;');
  });
});

function latePayload(lastFile: string): Parameters<typeof lateFileMessage>[0] {
  return {
    tenant: 'acme',
    name: 'Acme',
    every: '7 days',
    graceHours: 48,
    remind: true,
    timeZone: 'UTC',
    reminder: false,
    lastFile,
    lastFileAt: '2026-11-01T10:00:00.000Z',
    watchedSince: null,
    expectedAt: '2026-11-08T10:00:00.000Z',
    missedWindows: 1,
    lateBySeconds: 3 * 86400,
    at: '2026-11-11T10:00:00.000Z',
    inbox: '/acme/inbox',
    waitingInInbox: 0,
    drop: null,
  };
}

/**
 * A newline ends a code span in Slack: a file name shown as inline code must not carry one, or the mrkdwn
 * after it comes alive. Every kind built outside messages.ts shows names through messages.ts's literal().
 */
describe('a newline in a customer file name', () => {
  const NAME = 'acme\n*boss* _it_ ~gone~\n - 01.13.2023.csv';
  /** Formatting Slack would render from the name (our own bold labels are not in it). */
  const nameMarkup = (message: { text: string; blocks: unknown[] }) =>
    liveMarkup({ text: message.text, blocks: message.blocks as never, mrkdwn: false }).filter((m) => m.kind !== 'code' && /^(boss|it|gone)$/.test(m.content));

  it('makes no formatting live in the superseded, config-problem, late-file and OpenPGP-key alerts', () => {
    const messages = {
      superseded: supersededMessage({ runId: 7, tenantId: 'acme', fileName: NAME, supersededBy: 8 }),
      brokenConfig: configProblemMessage({ problem: 'tenant_file_broken', file: NAME, error: NAME, keptTenant: 'acme' }),
      unknownFolder: configProblemMessage({ problem: 'unknown_drop_folder', folder: NAME, files: 2 }),
      late: lateFileMessage(latePayload(NAME)),
      pgp: pgpKeyMessage({ tenant: 'acme', file: NAME, error: NAME }),
    };
    for (const [kind, message] of Object.entries(messages)) {
      expect.soft(nameMarkup(message), kind).toEqual([]);
      // The name is still there, on one line, as inline code.
      const spans = liveMarkup({ text: '', blocks: message.blocks as never, mrkdwn: false }).filter((m) => m.kind === 'code').map((m) => m.content);
      expect.soft(spans, kind).toContain('acme *boss* _it_ ~gone~ - 01.13.2023.csv');
    }
    // Sanity: the name with its newlines in a code span would be live (the check can fail).
    expect(nameMarkup({ text: '', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `\`${NAME}\`` } }] }).map((m) => m.kind)).toEqual(['bold', 'italic', 'strike']);
  });
});

describe('the OpenPGP-key alert cuts a long name before escaping it', () => {
  it('no half entity, and the "…" marks the cut', () => {
    const file = `${'a'.repeat(498)}&&&&.csv.pgp`;
    const message = pgpKeyMessage({ tenant: 'acme', file, error: 'the passphrase in HRIS_PGP_PASSPHRASE_ACME is wrong' });
    const span = liveMarkup({ text: '', blocks: message.blocks as never, mrkdwn: false }).find((m) => m.kind === 'code' && m.content.startsWith('aaa'))!;
    expect(span.content).toBe(`${'a'.repeat(498)}&amp;…`);
    expect(span.content).not.toMatch(/&(?!amp;|lt;|gt;)/);
  });
});
