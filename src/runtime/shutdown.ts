import type { Logger } from '../log.js';

export interface Stoppable {
  stop(): Promise<void>;
  /** Cleanup when stop() did not finish in time. */
  abandon(): Promise<void>;
}

/**
 * Resolves with the exit code once SIGTERM or SIGINT has stopped SERVICE. stop() gets TIMEOUT_MS; past
 * that the work in flight is abandoned: its database transaction has not committed, so nothing of it
 * is stored, and the file is taken again on the next start. Either way the process exits 0 (a stop that
 * was asked for). A second signal ends at once.
 */
export function stopOnSignal(service: Stoppable, options: { timeoutMs: number; logger: Logger; pending?: NodeJS.Signals }): Promise<number> {
  const { logger, timeoutMs } = options;
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        resolve(0);
        return;
      }
      stopping = true;
      const begun = Date.now();
      logger.info({ signal, timeoutMs }, 'shutting down: no new ticks; waiting for the file in flight');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((done) => {
        timer = setTimeout(() => done('timeout'), timeoutMs);
      });
      void Promise.race([service.stop().then(() => 'stopped' as const), timedOut])
        .then(async (how) => {
          clearTimeout(timer);
          if (how === 'timeout') {
            logger.warn({ timeoutMs }, 'shutdown bound reached: abandoning the work in flight (nothing of it is stored; taken again on the next start)');
            await service.abandon().catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'releasing claims failed'));
          } else {
            logger.info({ ms: Date.now() - begun }, 'stopped');
          }
          resolve(0);
        })
        .catch((error: unknown) => {
          clearTimeout(timer);
          logger.error({ err: (error as Error).message }, 'shutdown failed');
          resolve(1);
        });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // A signal that came while the service was starting (see holdSignals): stop now.
    if (options.pending) onSignal(options.pending);
  });
}

/**
 * Catches SIGTERM and SIGINT while the service starts, before stopOnSignal is listening: without it, a
 * Ctrl-C right after the first tick's log line killed the process with no shutdown and no exit code
 * (test/runtime.start.test.ts failed now and then). take() stops catching and gives the first signal
 * caught, for stopOnSignal's `pending`.
 */
export function holdSignals(): { take(): NodeJS.Signals | undefined } {
  let caught: NodeJS.Signals | undefined;
  const hold = (signal: NodeJS.Signals) => {
    caught ??= signal;
  };
  process.on('SIGTERM', hold);
  process.on('SIGINT', hold);
  return {
    take() {
      process.off('SIGTERM', hold);
      process.off('SIGINT', hold);
      return caught;
    },
  };
}
