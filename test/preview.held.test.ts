import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { previewFile } from '../src/pipeline.js';
import { HeldRows } from '../src/preview/held.js';
import { csvOf, fileOf, HEADER, person, range, tenantOf } from './pipeline.support.js';

describe('HeldRows: the previous rows a preview compares or deletes, on disk', () => {
  // A temporary folder of this test's own (os.tmpdir() follows TMPDIR), so that what is left in it is ours.
  let tmp: string;
  const savedTmpdir = process.env.TMPDIR;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'held-test-'));
    process.env.TMPDIR = tmp;
  });
  afterAll(async () => {
    if (savedTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmpdir;
    await rm(tmp, { recursive: true, force: true });
  });
  afterEach(() => vi.restoreAllMocks());

  it('gives back each added row, in any order, whatever its size and characters, and leaves nothing on disk even while open', async () => {
    const held = await HeldRows.open(20_000);
    // removed as soon as it is open: nothing of it outlives the process, however it ends
    expect(await readdir(tmp)).toEqual([]);
    const rowOf = (m: number) => [`m${m}@example.com`, m % 7 === 0 ? 'Zoë "Q", Müller\n東京' : `E${m}`, 'x'.repeat(m === 4321 ? 100_000 : m % 300)];
    // every third member, as a preview needs them (the others are never asked for): past several 1 MB writes
    for (let m = 0; m < 20_000; m += 3) held.add(m, rowOf(m));
    held.add(4321, rowOf(4321));
    for (const m of [19_998, 0, 4321, 2997, 3, 19_998, 12_345]) expect(held.get(m)).toEqual(rowOf(m));
    expect(() => held.get(1)).toThrow(/was not held/);
    expect(() => held.get(20_000)).toThrow(/was not held/);
    // rows added after reads are there too
    held.add(1, rowOf(1));
    expect(held.get(1)).toEqual(rowOf(1));
    await held.close();
    expect(await readdir(tmp)).toEqual([]);
  });

  it('a preview --against comparing every row (a column dropped) holds them there, gets the same diff, and closes it', async () => {
    const opened = vi.spyOn(HeldRows, 'open');
    const closed = vi.spyOn(HeldRows.prototype, 'close');
    const previous = () => fileOf('acme - 01.13.2023.csv', csvOf(range(1, 30)));
    const withoutCity = HEADER.filter((h) => h !== 'City');
    // every row's hash differs (its columns changed): all 29 compared, one a real update, one deletion
    const next = () => fileOf('acme - 02.13.2023.csv', csvOf([...range(1, 28), person(29, { last: 'Renamed' })], withoutCity));
    const summary = await previewFile({}, tenantOf(), next(), { against: previous() });
    expect(summary.counts).toMatchObject({ updates: 1, deletions: 1, unchanged: 28, invites: 0 });
    expect(opened).toHaveBeenCalledTimes(1);
    expect(closed).toHaveBeenCalledTimes(1);

    // a failure while comparing still closes it
    vi.spyOn(HeldRows.prototype, 'get').mockImplementation(() => {
      throw new Error('disk gone');
    });
    await expect(previewFile({}, tenantOf(), next(), { against: previous() })).rejects.toThrow('disk gone');
    expect(closed).toHaveBeenCalledTimes(2);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('a temporary folder that cannot be used is named in the error, with the way to move it', async () => {
    const missing = path.join(tmp, 'no-such-folder');
    process.env.TMPDIR = missing;
    try {
      await expect(HeldRows.open(10)).rejects.toThrow(`a temporary file in ${missing} (set TMPDIR to move it): ENOENT`);
    } finally {
      process.env.TMPDIR = tmp;
    }
  });
});
