import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureDevDropKeys, generateParsableKeyPair } from '../src/drop/dev-keys.js';

describe('development drop keys', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('every generated key pair parses (ssh2 now and then emits one it cannot read back)', () => {
    for (let i = 0; i < 1000; i += 1) {
      const pair = generateParsableKeyPair('test');
      expect(ssh2.utils.parseKey(pair.private)).not.toBeInstanceOf(Error);
    }
  });

  it('concurrent callers in one process get the same keys, written whole', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hris-devkeys-'));
    const results = await Promise.all(Array.from({ length: 8 }, () => ensureDevDropKeys(dir!)));
    const fingerprints = new Set(results.map((keys) => keys.host.fingerprint));
    expect(fingerprints.size).toBe(1);
    expect(await readFile(path.join(dir, 'host_ed25519'), 'utf8')).toBe(results[0]!.host.privateKey);
    expect((await ensureDevDropKeys(dir)).poller.fingerprint).toBe(results[0]!.poller.fingerprint);
  });
});
