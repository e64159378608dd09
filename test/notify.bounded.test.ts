import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fitSlackLimits, SLACK_LIMITS } from '../src/notify/limits.js';
import { heldMessage, rejectedMessage, type RunView } from '../src/notify/messages.js';
import { andMore, capList, cut, joinCapped } from '../src/text/bounded.js';
import { slackMessageError } from './support/fake-slack.js';

describe('src/text/bounded.ts', () => {
  it('cut: unchanged when it fits, else the start and an ellipsis in exactly MAX units, no half surrogate pair', () => {
    expect(cut('abc', 3)).toBe('abc');
    expect(cut('abcdef', 4)).toBe('abc…');
    expect(cut('ab😀cd', 4)).toBe('ab…'); // the emoji's high surrogate is not left dangling
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.integer({ min: 1, max: 50 }), (text, max) => {
        const shortened = cut(text, max);
        expect(shortened.length).toBeLessThanOrEqual(max);
        if (text.length <= max) expect(shortened).toBe(text);
        else expect(shortened.endsWith('…') && text.startsWith(shortened.slice(0, -1))).toBe(true);
      }),
    );
  });

  it('capList: the first MAX items, then "... and N more" with the right N (or the known total)', () => {
    expect(capList(['a', 'b', 'c'], 5)).toEqual(['a', 'b', 'c']);
    expect(capList(['a', 'b', 'c', 'd'], 2)).toEqual(['a', 'b', '... and 2 more']);
    expect(capList(['a', 'b'], 2, { total: 57, noun: 'errors' })).toEqual(['a', 'b', '... and 55 more errors']);
    expect(capList(['x'.repeat(10)], 1, { itemMax: 4 })).toEqual(['xxx…']);
    expect(andMore(19_990, 'columns')).toBe('... and 19,990 more columns');
  });

  it('joinCapped: never over MAX_CHARS, whole items while they fit, then how many are left', () => {
    const items = Array.from({ length: 20_000 }, (_, i) => `"Column ${i + 1}"`);
    const joined = joinCapped(items, ', ', 1000, { noun: 'columns' });
    expect(joined.length).toBeLessThanOrEqual(1000);
    const shown = joined.split(', ').filter((part) => part.startsWith('"'));
    expect(joined.endsWith(`... and ${(20_000 - shown.length).toLocaleString('en-US')} more columns`)).toBe(true);
    expect(joinCapped(['a', 'b'], ', ', 100)).toBe('a, b');
    fc.assert(
      fc.property(fc.array(fc.string()), fc.integer({ min: 1, max: 300 }), (list, max) => {
        expect(joinCapped(list, '; ', max).length).toBeLessThanOrEqual(max);
      }),
    );
  });
});

function view(overrides: Partial<RunView>): RunView {
  return {
    id: 7, tenantId: 'acme', fileName: 'a.csv', fileDate: null, status: 'rejected', currentStatus: 'rejected', rows: 1,
    counts: { invites: 0, updates: 0, deactivations: 0, reactivations: 0, deletions: 0, unchanged: 0, notInvitable: 0 },
    errorCount: 0, errors: [], reasons: [], warnings: [], decidedBy: null, duplicateOf: null, ...overrides,
  };
}

describe('every message fits Slack, whatever is stored', () => {
  it('a 300 KB error, a 100 KB file name, 20,000 warnings and reasons: the built message is taken as is', () => {
    const huge = 'h'.repeat(300_000);
    const messages = [
      rejectedMessage(view({ fileName: `${'n'.repeat(100_000)}.csv`, errorCount: 1, errors: [{ line: 1, column: huge, value: null, message: huge }], warnings: Array(20_000).fill(huge) })),
      heldMessage(view({ status: 'held', currentStatus: 'held', tenantId: 't'.repeat(10_000), reasons: Array(20_000).fill(huge) })),
    ];
    for (const message of messages) {
      expect(slackMessageError({ text: message.text, blocks: JSON.stringify(message.blocks) })).toBeUndefined();
      expect(message.text.length).toBeLessThanOrEqual(1_100);
      expect(fitSlackLimits(message)).toEqual(message); // the last guard has nothing left to cut
    }
  });

  it('fitSlackLimits: the safety net cuts every text and list to Slack’s limits without breaking an entity', () => {
    const fitted = fitSlackLimits({
      kind: 'test',
      text: '&amp;'.repeat(10_000),
      attach: [],
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'h'.repeat(500) } },
        { type: 'section', text: { type: 'mrkdwn', text: '&lt;'.repeat(1000) }, fields: Array(12).fill({ type: 'mrkdwn', text: 'f'.repeat(3000) }) },
        { type: 'context', elements: Array(11).fill({ type: 'plain_text', text: 'c'.repeat(4000) }) },
        ...Array(60).fill({ type: 'divider' }),
      ],
    });
    expect(slackMessageError({ text: fitted.text, blocks: fitted.blocks })).toBeUndefined();
    expect(fitted.blocks).toHaveLength(SLACK_LIMITS.blocks);
    expect(fitted.text).toMatch(/^(&amp;)+…$/);
    const section = fitted.blocks[1] as { text: { text: string } };
    expect(section.text.text).toMatch(/^(&lt;)+…$/);
    expect(JSON.stringify(fitted.blocks.at(-1))).toContain('... and 14 more blocks');
  });
});

