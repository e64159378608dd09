import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { holdSignals, stopOnSignal } from '../src/runtime/shutdown.js';

/** The listeners this test adds, removed after each case (the real service exits instead). */
const before = { SIGTERM: process.listeners('SIGTERM'), SIGINT: process.listeners('SIGINT') };
afterEach(() => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    for (const listener of process.listeners(signal)) if (!before[signal].includes(listener)) process.off(signal, listener);
  }
});

function service() {
  const state = { stopped: 0 };
  return { state, stop: async () => void state.stopped++, abandon: async () => undefined };
}

describe('signals while the service starts', () => {
  // SIGTERM only: vitest's worker listens to SIGINT itself (an emitted SIGINT cancels the run).
  it('a signal caught during start-up stops the service as soon as it is up (exit 0), once', async () => {
    const held = holdSignals();
    // As Node calls a signal's listeners: with the signal's name.
    process.emit('SIGTERM', 'SIGTERM' as never);
    process.emit('SIGTERM', 'SIGTERM' as never);
    const s = service();
    const pending = held.take();
    expect(pending).toBe('SIGTERM');
    const code = await stopOnSignal(s, { timeoutMs: 1000, logger: silentLogger, pending });
    expect(code).toBe(0);
    expect(s.state.stopped).toBe(1);
  });

  it('take() stops catching: nothing pending without a signal, and later signals go to stopOnSignal only', async () => {
    const held = holdSignals();
    expect(held.take()).toBeUndefined();
    expect(process.listenerCount('SIGINT')).toBe(before.SIGINT.length);
    const s = service();
    const stopped = stopOnSignal(s, { timeoutMs: 1000, logger: silentLogger });
    expect(s.state.stopped).toBe(0);
    process.emit('SIGTERM');
    expect(await stopped).toBe(0);
    expect(s.state.stopped).toBe(1);
  });
});
