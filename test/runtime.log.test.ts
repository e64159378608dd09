import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';

function capture(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, lines: () => text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('logger', () => {
  it('writes one JSON object per line with the service name, level and message', () => {
    const out = capture();
    const logger = createLogger({ format: 'json', level: 'info', destination: out.stream });
    logger.info({ tenant: 'acme', runId: 4, rows: 12 }, 'file processed');
    logger.debug('not at info level');
    const lines = out.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ service: 'hris-ingest', level: 30, tenant: 'acme', runId: 4, rows: 12, msg: 'file processed' });
  });

  it('censors fields that would hold personal data, also one level down', () => {
    const out = capture();
    const logger = createLogger({ format: 'json', level: 'info', destination: out.stream });
    logger.warn({ email: 'jane.doe@example.com', issue: { line: 3, column: 'email', value: 'jane.doe@example', employee_id: 'E1' } }, 'bad row');
    const [line] = out.lines();
    expect(JSON.stringify(line)).not.toContain('jane.doe');
    expect(JSON.stringify(line)).not.toContain('E1');
    expect(line).toMatchObject({ email: '[redacted]', issue: { line: 3, column: 'email', value: '[redacted]', employee_id: '[redacted]' } });
  });
});
