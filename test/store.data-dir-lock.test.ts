import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirBusyError, lockDataDir } from '../src/store/data-dir-lock.js';
import { openDatabase } from '../src/store/db.js';
import { ensureBuilt } from './support/cli.js';

describe('the embedded database folder is held by one process at a time', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'data-dir-lock-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('a second open of the same folder fails with a clear message until the first is closed', async () => {
    const first = await openDatabase({ embeddedDir: dir });
    try {
      await expect(openDatabase({ embeddedDir: dir })).rejects.toThrow(/in use by process \d+/);
    } finally {
      await first.close();
    }
    const again = await openDatabase({ embeddedDir: dir });
    expect((await again.pool.query('select 1 as one')).rows[0]).toEqual({ one: 1 });
    await again.close();
  });

  it('another live process holding the folder is refused; a lock left by a dead process is taken over', async () => {
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      await writeFile(path.join(dir, 'hris-ingest.lock'), `${sleeper.pid}\n`);
      await expect(lockDataDir(dir)).rejects.toBeInstanceOf(DataDirBusyError);
    } finally {
      sleeper.kill();
      await new Promise((resolve) => sleeper.once('exit', resolve));
    }
    const release = await lockDataDir(dir); // the sleeper is gone
    expect((await readFile(path.join(dir, 'hris-ingest.lock'), 'utf8')).trim()).toBe(String(process.pid));
    await release();
    await expect(readFile(path.join(dir, 'hris-ingest.lock'))).rejects.toThrow(/ENOENT/);
  });

  it('two processes starting together after a crash (a stale lock): exactly one takes the folder, every time', { timeout: 120_000 }, async () => {
    ensureBuilt();
    const module = pathToFileURL(path.join(process.cwd(), 'dist/src/store/data-dir-lock.js')).href;
    for (let round = 0; round < 12; round++) {
      await writeFile(path.join(dir, 'hris-ingest.lock'), '999999\n'); // a pid that is gone
      const at = Date.now() + 400;
      // Each waits for the same moment, tries, says what it got, and stays alive while the other tries.
      const script = `const wait = ${at} - Date.now(); setTimeout(() => import(${JSON.stringify(module)}).then((m) => m.lockDataDir(${JSON.stringify(dir)}))
        .then(() => console.log('GOT'), (e) => console.log(e.name)).then(() => setTimeout(() => {}, 1500)), Math.max(0, wait));`;
      const outcomes = await Promise.all(
        [0, 1].map(
          () =>
            new Promise<string>((resolve) => {
              const child = spawn(process.execPath, ['--input-type=module', '-e', script]);
              let out = '';
              child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
              child.once('exit', () => resolve(out.trim()));
            }),
        ),
      );
      expect(outcomes.sort(), `round ${round}`).toEqual(['DataDirBusyError', 'GOT']);
      await rm(path.join(dir, 'hris-ingest.lock'), { force: true });
    }
  });
});
