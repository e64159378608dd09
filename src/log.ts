import pino from 'pino';

export type Logger = pino.Logger;

/**
 * Fields that would hold a member's personal data. Nothing should log them (log counts, line numbers,
 * column names, tenant ids, file names and run ids instead); if a line does anyway, pino censors them.
 */
export const REDACTED_FIELDS = ['email', 'emails', 'first_name', 'last_name', 'firstName', 'lastName', 'employee_id', 'employeeId', 'value', 'values', 'row', 'member'];

const redact = {
  paths: [...REDACTED_FIELDS, ...REDACTED_FIELDS.map((field) => `*.${field}`)],
  censor: '[redacted]',
};

/**
 * The one logger, on stderr (stdout is for command output). JSON in production, readable on a terminal:
 * format auto = pretty when stderr is a terminal, JSON otherwise.
 * Never log a member's personal data (names, emails, ids, cell values): log counts, line numbers,
 * column names, tenant ids, file names and run ids only.
 */
export function createLogger(options: { level?: string; format?: 'json' | 'pretty' | 'auto'; destination?: NodeJS.WritableStream } = {}): Logger {
  const format = options.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true && !options.destination);
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  if (pretty) {
    return pino({ level, redact, transport: { target: 'pino-pretty', options: { colorize: !process.env.NO_COLOR, destination: 2, ignore: 'pid,hostname' } } });
  }
  return pino({ level, redact, base: { service: 'hris-ingest' } }, (options.destination ?? pino.destination(2)) as pino.DestinationStream);
}

/** A logger that drops everything (library use, tests that do not look at logs). */
export const silentLogger: Logger = pino({ level: 'silent' });
