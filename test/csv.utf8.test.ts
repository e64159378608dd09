import { describe, expect, test } from 'vitest';
import { Utf8Guard } from '../src/csv/utf8.js';

/** Feeds bytes in the given chunk sizes; returns the bytes let through and the failure, if any. */
function run(bytes: Buffer, chunk = bytes.length || 1) {
  const guard = new Utf8Guard();
  const passed: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += chunk) {
    const out = guard.push(bytes.subarray(at, at + chunk));
    if (out) passed.push(out);
  }
  guard.end();
  return { passed: Buffer.concat(passed), failure: guard.failure };
}

const lines = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

describe('Utf8Guard', () => {
  test('lets valid UTF-8 through unchanged at every chunk size', () => {
    const text = Buffer.from('a,b\nJosé,김민준,🙂\r\nZoë,Ørsted,x\n');
    for (let size = 1; size <= 8; size++) {
      const { passed, failure } = run(text, size);
      expect(failure, `chunk ${size}`).toBeNull();
      expect(passed.equals(text)).toBe(true);
    }
  });

  test.each([
    ['a lone continuation byte', [0x80], '0x80'],
    ['an overlong encoding of "/"', [0xc0, 0xaf], '0xC0'],
    ['a UTF-16 surrogate', [0xed, 0xa0, 0x80], '0xED 0xA0 0x80'],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], '0xF4 0x90 0x80 0x80'],
    ['a lead byte F5', [0xf5, 0x80, 0x80, 0x80], '0xF5'],
    ['a sequence cut by ASCII', [0xe2, 0x82, 0x41], '0xE2 0x82'],
  ])('rejects %s with its line and bytes', (_name, bad, hex) => {
    const bytes = lines('h1,h2\n', 'a,b\n', 'c,', bad, 'd\n');
    for (const size of [1, 3, 1000]) {
      const { failure } = run(bytes, size);
      expect(failure, `chunk ${size}`).toMatchObject({ line: 3, bytes: hex });
    }
  });

  test('a Latin-1 accented letter gets the Latin-1 hint', () => {
    const { failure } = run(lines('h\n', 'Jos', [0xe9], '\n'));
    expect(failure?.message).toBe('the file is not valid UTF-8: byte 0xE9 on line 2 (the file looks Latin-1/Windows-1252 encoded: export it as UTF-8)');
  });

  test('lets the bytes before the first failure through, then stops (the failure shows from the next push or end)', () => {
    const guard = new Utf8Guard();
    expect(guard.push(Buffer.from([0x61, 0xff]))?.toString()).toBe('a');
    expect(guard.push(Buffer.from('fine\n'))).toBeNull();
    expect(guard.failure?.line).toBe(1);
    const ending = new Utf8Guard();
    expect(ending.push(Buffer.from('a\nb\u0000'))?.toString()).toBe('a\nb');
    expect(ending.failure).toBeNull();
    ending.end();
    expect(ending.failure).toMatchObject({ line: 2, bytes: '0x00' });
  });

  test('counts the newlines that passed', () => {
    const guard = new Utf8Guard();
    guard.push(Buffer.from('a\nb\r\nc'));
    expect(guard.newlinesSeen).toBe(2);
  });
});
