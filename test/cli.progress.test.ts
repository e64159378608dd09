import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { terminalProgress } from '../src/cli/progress.js';

function fakeStream(isTTY: boolean) {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean };
  stream.isTTY = isTTY;
  let written = '';
  stream.on('data', (chunk: Buffer) => (written += chunk.toString()));
  return { stream: stream as unknown as NodeJS.WriteStream, written: () => written };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('terminal progress line', () => {
  it('is off when stderr is not a terminal (no callback, no output)', async () => {
    const { stream, written } = fakeStream(false);
    const progress = terminalProgress('ingest f.csv', stream);
    expect(progress.onProgress).toBeUndefined();
    vi.advanceTimersByTime(5000);
    progress.finish();
    await vi.runAllTimersAsync();
    expect(written()).toBe('');
  });

  it('stays quiet for a short run', async () => {
    const { stream, written } = fakeStream(true);
    const progress = terminalProgress('ingest f.csv', stream);
    progress.onProgress?.(500);
    vi.advanceTimersByTime(900);
    progress.finish();
    vi.advanceTimersByTime(5000);
    await Promise.resolve();
    expect(written()).toBe('');
  });

  it('shows records so far on one redrawn line for a long run, then clears it', async () => {
    const { stream, written } = fakeStream(true);
    const progress = terminalProgress('ingest f.csv', stream);
    progress.onProgress?.(2000);
    vi.advanceTimersByTime(1100);
    progress.onProgress?.(150_000);
    vi.advanceTimersByTime(600);
    progress.finish();
    await Promise.resolve();
    const text = written();
    expect(text).toContain('\r\x1b[Kingest f.csv: 2,000 records read (1s)');
    expect(text).toContain('ingest f.csv: 150,000 records read (2s)');
    expect(text.endsWith('\r\x1b[K')).toBe(true);
    expect(text).not.toContain('\n');
  });
});
