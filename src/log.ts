import pino from 'pino';

export type Logger = pino.Logger;

/**
 * The one logger. JSON in production, readable on a terminal.
 * Never log a member's personal data (names, emails, ids, cell values): log counts, line numbers,
 * column names, tenant ids, file names and run ids only.
 */
export function createLogger(options: { level?: string; format?: 'json' | 'pretty' | 'auto'; destination?: NodeJS.WritableStream } = {}): Logger {
  const format = options.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true && !options.destination);
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  if (pretty) {
    return pino({ level, transport: { target: 'pino-pretty', options: { colorize: true, destination: 2 } } });
  }
  return pino({ level, base: { service: 'hris-ingest' } }, (options.destination ?? pino.destination(2)) as pino.DestinationStream);
}

/** A logger that drops everything (library use, tests that do not look at logs). */
export const silentLogger: Logger = pino({ level: 'silent' });
