import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirBusyError, lockDataDir } from '../src/store/data-dir-lock.js';
import { openDatabase } from '../src/store/db.js';

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
});
