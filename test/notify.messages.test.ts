import { describe, expect, it } from 'vitest';
import {
  acceptedMessage,
  dropRecoveredMessage,
  dropUnreachableMessage,
  duplicateMessage,
  fileTooLargeMessage,
  heldMessage,
  rejectedMessage,
  runMessage,
  testMessage,
  type RunView,
} from '../src/notify/messages.js';
import { maskValue } from '../src/text/mask.js';

function run(overrides: Partial<RunView> = {}): RunView {
  return {
    id: 42,
    tenantId: 'acme',
    fileName: '10KC Membership File - Acme - 01.13.2023.csv',
    fileDate: new Date(2023, 0, 13),
    status: 'accepted',
    currentStatus: 'accepted',
    rows: 3020,
    counts: { invites: 12, updates: 30, deactivations: 2, reactivations: 1, deletions: 4, unchanged: 2974, notInvitable: 0 },
    errorCount: 0,
    errors: [],
    reasons: [],
    warnings: [],
    decidedBy: null,
    duplicateOf: null,
    ...overrides,
  };
}

const allText = (message: { text: string; blocks: unknown[] }) => `${message.text}\n${JSON.stringify(message.blocks)}`;

describe('alert messages', () => {
  it('accepted: tenant, file, date, rows, every count, run id, dashboard link and the three files', () => {
    const message = acceptedMessage(run(), { dashboardUrl: 'https://hris.example.com/' });
    expect(message.kind).toBe('accepted');
    expect(message.attach).toEqual(['invites', 'updates', 'deletions']);
    expect(message.text).toContain('acme');
    expect(message.text).toContain('3,020 rows');
    expect(message.text).toContain('12 invites, 30 updates (2 deactivations, 1 reactivation), 4 deletions');
    const blocks = JSON.stringify(message.blocks);
    for (const part of ['*Invites:* 12', '*Updates:* 30', '*Deactivations:* 2', '*Reactivations:* 1', '*Deletions:* 4', 'Run 42', '2023-01-13', '3,020']) {
      expect(blocks).toContain(part);
    }
    expect(blocks).toContain('<https://hris.example.com/runs/42|open in the dashboard>');
    expect(message.runId).toBe(42);
  });

  it('accepted without a dashboard URL has no link; skipped rows add the errors file', () => {
    const message = acceptedMessage(run({ errorCount: 3 }));
    expect(JSON.stringify(message.blocks)).not.toContain('/runs/42');
    expect(message.attach).toEqual(['invites', 'updates', 'deletions', 'errors']);
    expect(JSON.stringify(message.blocks)).toContain('3 invalid rows were skipped');
  });

  it('accepted after approval says who approved it and why it was held', () => {
    const message = acceptedMessage(run({ reasons: ['would delete 412 of 3,020 members (13.6%), limit 10%', 'approved by ops@host'], decidedBy: 'ops@host' }));
    const blocks = JSON.stringify(message.blocks);
    expect(blocks).toContain('Held, then approved by ops@host');
    expect(blocks).toContain('would delete 412 of 3,020 members (13.6%), limit 10%');
  });

  it('rejected: error count, first errors with line/column/reason but never the cell value, the fix, the errors file', () => {
    const errors = Array.from({ length: 12 }, (_, i) => ({
      line: i + 2,
      column: 'email',
      value: `jane.doe${i}@acme.com`,
      message: `not a valid email address (expected name@company.com): jane.doe${i}@acme.com has no domain`,
    }));
    errors.push({ line: 20, column: 'hire_start_date', value: '13/01/2020', message: 'expected a date as MM/DD/YYYY: 13/01/2020 is not a calendar date' } as never);
    const message = rejectedMessage(run({ status: 'rejected', currentStatus: 'rejected', errorCount: 57, errors }), { maxErrors: 10 });
    expect(message.attach).toEqual(['errors']);
    const text = allText(message);
    expect(text).toContain('57 errors');
    expect(text).toContain('line 2, column email');
    expect(text).toContain('line 11');
    expect(text).not.toContain('line 12,');
    expect(text).toContain('and 47 more in validation errors.csv');
    expect(text).toContain('What the customer must fix');
    expect(text).not.toMatch(/jane\.doe/);
    expect(text).toContain('not a valid email address (expected name@company.com): [value] has no domain');
  });

  it('maskValue hides the quoted value and anything like an email address', () => {
    expect(maskValue('expected a date as MM/DD/YYYY: 13/01/2020 is not a calendar date', '13/01/2020')).toBe(
      'expected a date as MM/DD/YYYY: [value] is not a calendar date',
    );
    expect(maskValue('duplicate email: also on line 7', 'a@b.co')).toBe('duplicate email: also on line 7');
    expect(maskValue('bad address x.y@corp.example', null)).toBe('bad address [email]');
  });

  it('a held run rejected by an operator says so, with no files', () => {
    const message = rejectedMessage(
      run({ status: 'rejected', currentStatus: 'rejected', reasons: ['row count dropped from 100 to 50 (-50.0%)', 'rejected by ops: wrong file'] }),
    );
    expect(message.attach).toEqual([]);
    expect(message.text).toContain('rejected by ops: wrong file');
    expect(JSON.stringify(message.blocks)).toContain('row count dropped from 100 to 50');
  });

  it('held: the reasons and exactly how to approve or reject', () => {
    const reason = 'would delete 412 of 3,020 members on the platform (13.6%), limit 10% and 25';
    const message = heldMessage(run({ status: 'held', currentStatus: 'held', reasons: [reason] }), { dashboardUrl: 'https://hris.example.com' });
    const text = allText(message);
    expect(message.attach).toEqual([]);
    expect(text).toContain(reason);
    expect(text).toContain('hris-ingest runs approve 42');
    expect(text).toContain('hris-ingest runs reject 42');
    expect(text).toContain('https://hris.example.com/runs/42');
  });

  it('a held alert delivered after the decision still says held, and notes the decision apart from why it was held', () => {
    const message = runMessage(run({ status: 'held', currentStatus: 'rejected', reasons: ['row count dropped', 'rejected by ops: wrong file'] }))!;
    expect(message.kind).toBe('held');
    expect(JSON.stringify(message.blocks)).toContain('since then: `rejected by ops: wrong file`');
    const why = message.blocks.map((b) => JSON.stringify(b)).find((b) => b.includes('Why it is held'))!;
    expect(why).toContain('row count dropped');
    expect(why).not.toContain('rejected by ops');
    expect(message.text).toContain('for approval: row count dropped.');
    expect(message.text).not.toContain('rejected by ops');
  });

  it('duplicate: one line, or nothing when the tenant turned duplicate notes off', () => {
    const message = duplicateMessage(run({ status: 'duplicate', duplicateOf: 40 }))!;
    expect(message.text).toBe('acme: 10KC Membership File - Acme - 01.13.2023.csv is the same content as run 40; nothing to do. Run 42.');
    expect(message.attach).toEqual([]);
    expect(runMessage(run({ status: 'duplicate' }), { notifyDuplicates: false })).toBeNull();
  });

  it('drop unreachable and recovered', () => {
    const down = dropUnreachableMessage({ drop: 'sftp.example.com:2022', failures: 3, since: '2026-11-23T10:00:00.000Z', error: 'ECONNREFUSED' });
    expect(down.text).toContain('sftp.example.com:2022 failed 3 ticks in a row since 2026-11-23 10:00 UTC');
    expect(down.text).toContain('ECONNREFUSED');
    const up = dropRecoveredMessage({ drop: 'sftp.example.com:2022', failures: 5, since: '2026-11-23T10:00:00.000Z' });
    expect(up.text).toContain('reachable again');
    expect(up.text).toContain('5 failed ticks');
  });

  it('a file over the size limit: what, how big, where it went, what to do', () => {
    const message = fileTooLargeMessage({ tenant: 'acme', file: 'Acme <all> - 01.13.2023.csv', bytes: 3 * 1024 ** 3, limit: 2 * 1024 ** 3, moved: true }, { channel: '#acme' });
    expect(message.kind).toBe('file_too_large');
    expect(message.channel).toBe('#acme');
    expect(message.attach).toEqual([]);
    // The top-level text is entity-escaped too (no live markup from a file name).
    expect(message.text).toContain('acme: file Acme &lt;all&gt; - 01.13.2023.csv rejected unread: 3,072 MiB (3,221,225,472 bytes) is over the limit of 2,048 MiB');
    expect(message.text).toContain("rejected/ folder with the reason in Acme &lt;all&gt; - 01.13.2023.csv.errors.csv");
    const blocks = JSON.stringify(message.blocks);
    expect(blocks).toContain('Acme &lt;all&gt; - 01.13.2023.csv'); // mrkdwn-escaped
    expect(blocks).toContain('drop.maxFileBytes');
    expect(blocks).toContain('nothing was applied');
    const readOnly = fileTooLargeMessage({ tenant: 'acme', file: 'a.csv', bytes: 10, limit: 5, moved: false });
    expect(readOnly.text).not.toContain('rejected/');
    expect(readOnly.channel).toBeUndefined();
  });

  it('test message and channel override', () => {
    const message = testMessage({ channel: '#other', at: new Date('2026-11-23T12:00:00Z') });
    expect(message.channel).toBe('#other');
    expect(message.text).toContain('2026-11-23T12:00:00.000Z');
    expect(acceptedMessage(run(), { channel: '#hris-acme' }).channel).toBe('#hris-acme');
  });

  it('file warnings are shown in the context line with column numbers, never the header texts (a file without its header row has member data there)', () => {
    const warnings = ['unknown column "Jane" (column 1, ignored): map it', 'unknown column "E12345" (column 3, ignored): map it', 'column 5 has no header (ignored)'];
    const text = JSON.stringify(acceptedMessage(run({ warnings })).blocks);
    expect(text).toContain('Warnings: unknown column \\"…\\" (column 1, ignored): map it; unknown column \\"…\\" (column 3, ignored): map it; column 5 has no header (ignored)');
    expect(text).not.toContain('Jane');
    expect(text).not.toContain('E12345');
  });

  it('a section longer than Slack accepts (3,000 characters) is clipped with an ellipsis; reasons are capped with "... and N more"', () => {
    const sectionTexts = (blocks: ReturnType<typeof rejectedMessage>['blocks']) =>
      blocks.flatMap((block) => (block.type === 'section' ? [block.text.text] : []));
    // Each error line is cut to 250 characters; 20 of them make the "First errors" section ~5,500.
    const errors = Array.from({ length: 20 }, (_, i) => ({ line: i + 2, column: 'business_unit', value: 'X', message: `new segment value: ${'allowed '.repeat(100)}` }));
    const rejected = sectionTexts(rejectedMessage(run({ status: 'rejected', errorCount: 20, errors }), { maxErrors: 20 }).blocks);
    const long = rejected.find((text) => text.startsWith('First errors:\n• line 2, '));
    expect(long).toHaveLength(3000);
    expect(long!.endsWith('…')).toBe(true);
    for (const text of rejected) expect(text.length).toBeLessThanOrEqual(3000);
    // Hold reasons: the first 10, each cut to 250 characters, then how many more.
    const reasons = Array.from({ length: 40 }, (_, i) => `reason ${i}: ${'x'.repeat(1000)}`);
    const held = heldMessage(run({ status: 'held', currentStatus: 'held', reasons }));
    const why = sectionTexts(held.blocks).find((text) => text.startsWith('Why it is held:'))!;
    expect(why.split('\n').slice(1).map((line) => line.length)).toEqual([...Array(10).fill(252), 17]);
    expect(why).toContain('reason 9: ');
    expect(why).not.toContain('reason 10: ');
    expect(why.endsWith('• ... and 30 more')).toBe(true);
    expect(held.text.length).toBeLessThanOrEqual(1000);
  });

  it('escapes Slack control characters in file names', () => {
    const message = acceptedMessage(run({ fileName: 'a <b> & c.csv' }));
    expect(JSON.stringify(message.blocks)).toContain('a &lt;b&gt; &amp; c.csv');
  });
});
