import { mulberry32 } from '../bench/random.js';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTenantFile, type TenantConfig } from '../src/config/tenant.js';
import { previewFile, type FileInput, type RunSummary } from '../src/pipeline.js';
import { csvOf, fileOf, person, range, tenantOf } from './pipeline.support.js';
import { freshDatabase, type TestDatabase } from './support/db.js';

/**
 * The in-memory preview (src/preview/, what `preview` runs with no database) against the engine's
 * preview on a real database (src/pipeline.ts previewOn): the same summary and byte-identical files, on
 * the fixtures and on random files and pairs of files.
 */

let db: TestDatabase;
let scratch: string;
beforeAll(async () => {
  db = await freshDatabase();
  scratch = await mkdtemp(path.join(tmpdir(), 'memory-preview-'));
}, 60_000);
afterAll(async () => {
  await db?.dispose();
  await rm(scratch, { recursive: true, force: true });
});

type Outcome = { summary: Omit<RunSummary, 'files'>; files: Record<string, string> } | { error: string };

let runs = 0;
async function outcomeOf(useDb: boolean, tenant: TenantConfig, file: FileInput, against?: FileInput, withFiles = true): Promise<Outcome> {
  const outDir = withFiles ? path.join(scratch, `run-${++runs}`) : undefined;
  try {
    const { files, ...summary } = await previewFile(useDb ? { db } : {}, tenant, file, { against, outDir });
    const contents: Record<string, string> = {};
    for (const [kind, written] of Object.entries(files)) contents[`${kind}: ${path.basename(written!)}`] = await readFile(written!, 'latin1');
    return { summary, files: contents };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

/** Both previews of FILE (against AGAINST); returns the in-memory one's outcome. */
async function expectSame(tenant: TenantConfig, file: FileInput, against?: FileInput): Promise<Outcome> {
  const engine = await outcomeOf(true, tenant, file, against);
  const memory = await outcomeOf(false, tenant, file, against);
  expect(memory).toEqual(engine);
  // Without output files: the same summary (the comparisons still run for the counts).
  const bare = await outcomeOf(false, tenant, file, against, false);
  if ('summary' in engine) expect(bare).toEqual({ summary: engine.summary, files: {} });
  else expect(bare).toEqual(engine);
  return memory;
}

const fixtures = path.resolve('fixtures');
const onDisk = (file: string): FileInput => ({ name: path.basename(file), open: () => createReadStream(file) });

async function tenantFor(caseName: string): Promise<TenantConfig> {
  if (caseName === 'tenant-mapped-headers.csv') return loadTenantFile(path.join(fixtures, 'tenants', 'mapped.yaml'));
  if (caseName === 'new-segment-value.csv') return loadTenantFile(path.join(fixtures, 'tenants', 'segments.yaml'));
  return tenantOf();
}

const SAMPLE = path.join(fixtures, '10KC Membership File - Your Organization Name - All Active Personnel - 01.13.2023.csv');

describe('in-memory preview = the engine on a database', { timeout: 300_000 }, () => {
  it('every fixture case as a first file, and against the sample both ways', async () => {
    const cases = (await readdir(path.join(fixtures, 'cases'))).filter((f) => f.endsWith('.csv')).sort();
    expect(cases.length).toBeGreaterThan(30);
    const statuses = new Set<string>();
    for (const name of cases) {
      const tenant = await tenantFor(name);
      const file = onDisk(path.join(fixtures, 'cases', name));
      const first = await expectSame(tenant, file);
      if ('summary' in first) statuses.add(first.summary.status);
      await expectSame(tenant, file, onDisk(SAMPLE));
      await expectSame(tenant, onDisk(SAMPLE), file);
    }
    expect([...statuses].sort()).toEqual(['accepted', 'held', 'rejected']);
  });

  it('the sequences: each file first, each against the one before and the one after', async () => {
    const root = path.join(fixtures, 'sequences');
    for (const sequence of await readdir(root, { withFileTypes: true })) {
      if (!sequence.isDirectory()) continue;
      const dir = path.join(root, sequence.name);
      const files = (await readdir(dir)).filter((f) => f.endsWith('.csv')).sort().map((f) => onDisk(path.join(dir, f)));
      for (const [i, file] of files.entries()) {
        for (const tenant of [tenantOf(), tenantOf({ invalidRows: 'skip' }), tenantOf({ key: 'email' })]) {
          await expectSame(tenant, file);
          if (i > 0) await expectSame(tenant, file, files[i - 1]);
          if (i > 0) await expectSame(tenant, files[i - 1]!, file);
        }
      }
    }
  });

  it('random files and pairs of files (duplicates, invalid rows, changed columns, keys that sort by code point)', async () => {
    const rng = mulberry32(20261202);
    const tenants = [
      tenantOf(),
      tenantOf({ invalidRows: 'skip' }),
      tenantOf({ key: 'email', invalidRows: 'skip' }),
      tenantOf({ key: 'employee_id', invalidRows: 'skip' }),
      tenantOf({ invalidRows: 'skip', guardrails: { maxDeletePercent: 5, maxDeleteCount: 1, maxShrinkPercent: 10 } }),
    ];
    // (No reactivations: PREVIOUS's inactive members are not on the platform.)
    const kinds = { accepted: 0, held: 0, rejected: 0, unusable: 0, updates: 0, deletions: 0, duplicates: 0 };
    for (let round = 0; round < 60; round++) {
      const tenant = tenants[round % tenants.length]!;
      const previous = randomFile(rng, `prev ${round} - 01.13.2023.csv`, round % 3 === 0);
      const next = randomFile(rng, `next ${round} - 02.13.2023.csv`, true, previous.people);
      const first = await expectSame(tenant, next.file);
      const pair = await expectSame(tenant, next.file, previous.file);
      for (const outcome of [first, pair]) {
        if ('error' in outcome) kinds.unusable++;
        else {
          kinds[outcome.summary.status as 'accepted' | 'held' | 'rejected']++;
          if (outcome.summary.counts.updates > 0) kinds.updates++;
          if (outcome.summary.counts.deletions > 0) kinds.deletions++;
          if (outcome.summary.errors.some((e) => e.message.startsWith('duplicate'))) kinds.duplicates++;
        }
      }
    }
    // The random files reach every kind of outcome.
    for (const [kind, n] of Object.entries(kinds)) expect(n, kind).toBeGreaterThan(0);
  });

  it('skipped rows whose key cannot be trusted (a mistyped email key, shifted cells) hold a run that deletes, as in the engine', async () => {
    const before = fileOf('before - 01.13.2023.csv', csvOf(range(1, 10)));
    const mistyped = fileOf('mistyped - 02.13.2023.csv', csvOf([...range(1, 8), person(9, { email: 'm9@example' })]));
    const shifted = fileOf('shifted - 02.13.2023.csv', csvOf(range(1, 9)).replace('First9,Last9,', 'Last9,'));
    const newcomer = fileOf('newcomer - 02.13.2023.csv', csvOf([...range(1, 9), person(12, { status: 'bad' })]));
    // member 10's row carries member 1's id / email: both rows are duplicates, member 1 is carried, 10 deleted
    const sharedId = fileOf('shared id - 02.13.2023.csv', csvOf([...range(1, 9), person(10, { id: 'E1' })]));
    const sharedEmail = fileOf('shared email - 02.13.2023.csv', csvOf([...range(1, 9), person(10, { email: 'M1@example.com' })]));
    const skip = tenantOf({ invalidRows: 'skip' });
    for (const [tenant, file, status] of [
      [tenantOf({ key: 'email', invalidRows: 'skip' }), mistyped, 'held'],
      [skip, shifted, 'held'],
      [skip, newcomer, 'accepted'],
      [skip, sharedId, 'held'],
      [tenantOf({ key: 'email', invalidRows: 'skip' }), sharedEmail, 'held'],
    ] as const) {
      const outcome = await expectSame(tenant, file, before);
      expect('summary' in outcome && outcome.summary.status).toBe(status);
    }
  });
});

interface RandomPerson {
  first: string;
  last: string;
  email: string;
  id: string;
  status: string;
  eligibility: string;
  city: string;
}

const ALL_HEADERS = ['First Name', 'Last Name', 'Email Address', 'Unique ID', 'Status', 'Program Eligibility', 'City'];
const ID_STYLES = ['E', 'e', 'É', '𝔘', 'ß', 'Z', '_', '~'];

function randomPerson(rng: () => number, n: number): RandomPerson {
  const pick = <T,>(items: T[]) => items[Math.floor(rng() * items.length)]!;
  return {
    first: pick(['Ann', 'José', 'Zoë', '민준', '=cmd', 'Bob "B"']),
    last: `Last${n}`,
    email: `${pick(['m', 'M', 'x.y', 'ü'])}${n}@example.com`.replace('ü', 'u'),
    id: `${pick(ID_STYLES)}${n}`,
    status: rng() < 0.15 ? 'inactive' : 'active',
    eligibility: rng() < 0.1 ? 'ineligible' : 'eligible',
    city: pick(['Paris', 'Paris, La Défense', 'Oslo', '']),
  };
}

/** A membership file from NEXT_OF (changed, removed, added people) or fresh people, with random flaws when FLAWS. */
function randomFile(rng: () => number, name: string, flaws: boolean, nextOf?: RandomPerson[]): { file: FileInput; people: RandomPerson[] } {
  let people: RandomPerson[];
  if (nextOf) {
    people = nextOf.filter(() => rng() > 0.15).map((p) => {
      const r = rng();
      if (r < 0.1) return { ...p, status: p.status === 'inactive' ? 'active' : 'inactive' };
      if (r < 0.2) return { ...p, city: 'Lyon' };
      if (r < 0.25) return { ...p, email: `renamed.${p.email}` };
      return p;
    });
    for (let i = 0; i < 1 + Math.floor(rng() * 4); i++) people.push(randomPerson(rng, 1000 + Math.floor(rng() * 9000)));
    people.sort(() => rng() - 0.5);
  } else {
    people = Array.from({ length: Math.floor(rng() * 40) }, (_, i) => randomPerson(rng, i + 1));
  }
  // Column sets: sometimes without the id, the status or the city (another column set hashes differently).
  const headers = ALL_HEADERS.filter((h) => !((h === 'Unique ID' && rng() < 0.15) || (h === 'Status' && rng() < 0.15) || (h === 'City' && rng() < 0.2)));
  const rows = people.map((p) => ({ ...p }));
  if (flaws && rows.length > 2) {
    const at = () => Math.floor(rng() * rows.length);
    if (rng() < 0.3) rows[at()]!.email = rows[at()]!.email.toUpperCase(); // duplicate email (case differs)
    if (rng() < 0.3) rows[at()]!.id = rows[at()]!.id; // duplicate id
    if (rng() < 0.2) rows[at()]!.id = ''; // a row without an id
    if (rng() < 0.2) rows[at()]!.status = 'gone'; // invalid
    if (rng() < 0.1) rows[at()]!.email = ''; // invalid, no email
  }
  const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const cells = (p: RandomPerson) => ({ 'First Name': p.first, 'Last Name': p.last, 'Email Address': p.email, 'Unique ID': p.id, Status: p.status, 'Program Eligibility': p.eligibility, City: p.city });
  const lines = [headers.join(','), ...rows.map((p) => headers.map((h) => quote(cells(p)[h as keyof ReturnType<typeof cells>])).join(','))];
  if (rng() < 0.2 && lines.length > 2) lines.splice(1 + Math.floor(rng() * (lines.length - 1)), 0, ''); // a blank line
  return { file: fileOf(name, `${lines.join('\n')}\n`), people };
}

