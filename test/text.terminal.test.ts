import { describe, expect, it } from 'vitest';
import { MAX_TERMINAL_NAME, terminalName, terminalText } from '../src/text/terminal.js';

describe('customer text on a terminal', () => {
  it('shows every control character and line separator as an escape, and keeps other text as it is', () => {
    expect(terminalText('a\u001b[2Jb\nACCEPTED\r\t\u0000\u007f\u009b\u2028\u2029')).toBe('a\\x1b[2Jb\\nACCEPTED\\r\\t\\x00\\x7f\\x9b\\u2028\\u2029');
    expect(terminalText('Zoë Ødegaard – 東京 😀, "q" <b> & \\')).toBe('Zoë Ødegaard – 東京 😀, "q" <b> & \\');
    // an OSC 8 hyperlink cannot be opened
    expect(terminalText('x\u001b]8;;http://evil\u0007.csv')).not.toMatch(/[\u0000-\u001f]/);
  });

  it('cuts a file name after escaping it', () => {
    const name = terminalName(`${'\u001b'.repeat(300)}.csv`);
    expect(name).toHaveLength(MAX_TERMINAL_NAME);
    expect(name.endsWith('…')).toBe(true);
    expect(name).not.toContain('\u001b');
  });
});
