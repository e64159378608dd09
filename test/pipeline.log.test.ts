import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { ingestFile } from '../src/pipeline.js';
import { csvOf, fileOf, range, tenantOf, useEngine } from './pipeline.support.js';

function captured() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ level: 'info', format: 'json', destination }), lines };
}

describe('the "run finished" log line (issue 10)', () => {
  const engine = useEngine();

  it('names the tenant once, whether or not the logger is already bound to it (the drop binds it)', async () => {
    for (const bound of [false, true]) {
      const { logger, lines } = captured();
      const tenant = tenantOf({ id: bound ? 'bound' : 'plain' });
      await ingestFile({ db: engine.db, logger: bound ? logger.child({ tenant: tenant.id }) : logger }, tenant, fileOf('t - 01.13.2023.csv', csvOf(range(1, 3))));
      const line = lines.find((l) => l.includes('"msg":"run finished"'));
      expect(line, `bound=${bound}`).toBeDefined();
      expect(line!.match(/"tenant":/g)).toHaveLength(1);
      expect(JSON.parse(line!).tenant).toBe(tenant.id);
    }
  });
});
