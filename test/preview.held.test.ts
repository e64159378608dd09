import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { previewFile } from '../src/pipeline.js';
import { HeldRows } from '../src/preview/held.js';
import { csvOf, fileOf, HEADER, person, range, tenantOf } from './pipeline.support.js';

const previewDirs = () => new Set(readdirSync(os.tmpdir()).filter((d) => d.startsWith('hris-preview-')));

describe('HeldRows: the previous rows a preview compares or deletes, on disk', () => {
  it('gives back each added row, in any order, whatever its size and characters; close removes the file', async () => {
    const before = previewDirs();
    const held = await HeldRows.open(5000);
    const created = [...previewDirs()].filter((d) => !before.has(d));
    expect(created).toHaveLength(1);
    const rowOf = (m: number) => [`m${m}@example.com`, m % 7 === 0 ? 'Zoë "Q", Müller\n東京' : `E${m}`, 'x'.repeat(m === 4321 ? 100_000 : m % 50)];
    // every third member, as a preview needs them (the others are never asked for)
    for (let m = 0; m < 5000; m += 3) held.add(m, rowOf(m));
    held.add(4321, rowOf(4321));
    for (const m of [4998, 0, 4321, 2997, 3, 4998]) expect(held.get(m)).toEqual(rowOf(m));
    expect(() => held.get(1)).toThrow(/was not held/);
    // rows added after reads are there too
    held.add(1, rowOf(1));
    expect(held.get(1)).toEqual(rowOf(1));
    await held.close();
    expect(existsSync(`${os.tmpdir()}/${created[0]}`)).toBe(false);
  });

  it('a preview --against comparing every row (a column dropped) gets the same diff, and leaves no file behind', async () => {
    const before = previewDirs();
    const previous = () => fileOf('acme - 01.13.2023.csv', csvOf(range(1, 30)));
    const withoutCity = HEADER.filter((h) => h !== 'City');
    // every row's hash differs (its columns changed): all 29 compared, one a real update, one deletion
    const next = fileOf('acme - 02.13.2023.csv', csvOf([...range(1, 28), person(29, { last: 'Renamed' })], withoutCity));
    const summary = await previewFile({}, tenantOf(), next, { against: previous() });
    expect(summary.counts).toMatchObject({ updates: 1, deletions: 1, unchanged: 28, invites: 0 });
    expect([...previewDirs()].filter((d) => !before.has(d))).toEqual([]);
  });
});
