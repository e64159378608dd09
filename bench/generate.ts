/**
 * Deterministic membership files for the benchmark, in the seeds' format (19 display headers), written with
 * streams so memory stays flat at any size: a "previous" file of N rows and the "next" file of the same
 * population with ~2% removed, ~2% deactivated, ~3% changed and ~2% added.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { mulberry32, pick, rowSeed, weighted, type Random } from './random.js';
import { BUSINESS_UNITS, FIRST_NAMES, GENDERS, JOB_FUNCTIONS, LAST_NAMES, LOCALE_WEIGHTS, OFFICES } from './values.js';

/** Bump when the generated content changes, so stale files in bench/data are regenerated. */
const GENERATOR_VERSION = 1;
export const DEFAULT_SEED = 20230113;

export const BENCH_HEADERS = [
  'First Name', 'Last Name', 'Email Address', 'Employee ID', 'Program Eligibility', 'Status', 'Job Function',
  'Hire Start Date', 'Business Unit', 'Office Location', 'City', 'Country', 'People Manager Status',
  'High Potential Status', 'Gender', 'First Level Supervisor', 'Second Level Supervisor', 'Third Level Supervisor',
  'Locale',
] as const;

const enum Col {
  FirstName, LastName, Email, EmployeeId, Eligibility, Status, JobFunction, HireDate, BusinessUnit, Office, City,
  Country, Manager, HighPotential, Gender, Supervisor1, Supervisor2, Supervisor3, Locale,
}

/** Rates of the "next" file, as fractions of the previous file's rows. */
export const NEXT_RATES = { removed: 0.02, deactivated: 0.02, changed: 0.03, added: 0.02 } as const;

/** Diff counts the engine should report for a file (DESIGN.md's diff table applied by the generator). */
export interface ExpectedCounts {
  invites: number;
  updates: number;
  deactivations: number;
  deletions: number;
}

export interface GeneratedFile {
  path: string;
  name: string;
  rows: number;
  bytes: number;
  expected: ExpectedCounts;
}

export interface BenchFiles {
  rows: number;
  seed: number;
  previous: GeneratedFile;
  next: GeneratedFile;
}

type Row = string[];

const DAY_MS = 86_400_000;
const HIRE_FROM = Date.UTC(1985, 0, 1);
const HIRE_DAYS = Math.floor((Date.UTC(2022, 11, 31) - HIRE_FROM) / DAY_MS);

function usDate(ms: number): string {
  const date = new Date(ms);
  const month = String(date.getUTCMonth() + 1).padStart(2, '0');
  const day = String(date.getUTCDate()).padStart(2, '0');
  return `${month}/${day}/${date.getUTCFullYear()}`;
}

function personName(random: Random): string {
  return `${pick(random, FIRST_NAMES)[0]} ${pick(random, LAST_NAMES)[0]}`;
}

/** Member number INDEX (0-based) of the population; the same for every file. */
export function memberRow(seed: number, index: number): Row {
  const random = mulberry32(rowSeed(seed, 0, index));
  const [first, firstAscii] = pick(random, FIRST_NAMES);
  const [last, lastAscii] = pick(random, LAST_NAMES);
  const [office, city, country] = pick(random, OFFICES);
  const number = index + 1;
  return [
    first,
    last,
    `${firstAscii}.${lastAscii}.${number}@acme.io`,
    `E${String(number).padStart(7, '0')}`,
    random() < 0.97 ? 'eligible' : 'ineligible',
    random() < 0.95 ? 'active' : 'inactive',
    pick(random, JOB_FUNCTIONS),
    usDate(HIRE_FROM + Math.floor(random() * HIRE_DAYS) * DAY_MS),
    pick(random, BUSINESS_UNITS),
    office,
    city,
    country,
    random() < 0.12 ? 'yes' : 'no',
    random() < 0.08 ? 'yes' : 'no',
    weighted(random, GENDERS),
    personName(random),
    personName(random),
    personName(random),
    weighted(random, LOCALE_WEIGHTS),
  ];
}

/** Invitable per DESIGN.md: not inactive and not ineligible. */
export function isInvitable(row: Row): boolean {
  return row[Col.Status] !== 'inactive' && row[Col.Eligibility] !== 'ineligible';
}

function differentFrom<T>(random: Random, items: readonly T[], current: T): T {
  const at = items.indexOf(current);
  const offset = 1 + Math.floor(random() * (items.length - 1));
  return items[((at < 0 ? 0 : at) + offset) % items.length] as T;
}

/** Changes one profile field (never status or eligibility) to a different value. */
function changeOneField(random: Random, row: Row): void {
  switch (Math.floor(random() * 6)) {
    case 0:
      row[Col.JobFunction] = differentFrom(random, JOB_FUNCTIONS, row[Col.JobFunction]!);
      break;
    case 1:
      row[Col.BusinessUnit] = differentFrom(random, BUSINESS_UNITS, row[Col.BusinessUnit]!);
      break;
    case 2: {
      const current = OFFICES.find(([office, city]) => office === row[Col.Office] && city === row[Col.City]);
      const [office, city, country] = differentFrom(random, OFFICES, current ?? OFFICES[0]!);
      row[Col.Office] = office;
      row[Col.City] = city;
      row[Col.Country] = country;
      break;
    }
    case 3:
      row[Col.LastName] = differentFrom(random, LAST_NAMES.map(([name]) => name), row[Col.LastName]!);
      break;
    case 4:
      row[Col.Manager] = row[Col.Manager] === 'yes' ? 'no' : 'yes';
      break;
    default: {
      let supervisor = personName(random);
      if (supervisor === row[Col.Supervisor1]) supervisor = `${supervisor} Jr`;
      row[Col.Supervisor1] = supervisor;
    }
  }
}

const NEEDS_QUOTES = /[",\r\n]/;

function csvCell(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function csvLine(row: readonly string[]): string {
  let line = csvCell(row[0]!);
  for (let i = 1; i < row.length; i++) line += ',' + csvCell(row[i]!);
  return line + '\n';
}

const emptyCounts = (): ExpectedCounts => ({ invites: 0, updates: 0, deactivations: 0, deletions: 0 });

/** Rows of the first ("previous") file; EXPECTED gets the counts of ingesting it as a first file. */
function* previousRows(seed: number, rows: number, expected: ExpectedCounts): Generator<Row> {
  for (let index = 0; index < rows; index++) {
    const row = memberRow(seed, index);
    if (isInvitable(row)) expected.invites++;
    yield row;
  }
}

/**
 * Rows of the "next" file; EXPECTED gets the counts of diffing it against the previous one, where only the
 * previous file's invitable members are on the platform.
 */
function* nextRows(seed: number, rows: number, expected: ExpectedCounts): Generator<Row> {
  const addedTotal = Math.round(rows * NEXT_RATES.added);
  const addEvery = addedTotal > 0 ? Math.max(1, Math.floor(rows / addedTotal)) : Infinity;
  let added = 0;
  const { removed, deactivated, changed } = NEXT_RATES;
  for (let index = 0; index < rows; index++) {
    const row = memberRow(seed, index);
    const onPlatform = isInvitable(row);
    const random = mulberry32(rowSeed(seed, 1, index));
    const roll = random();
    if (roll < removed) {
      if (onPlatform) expected.deletions++;
    } else {
      if (roll < removed + deactivated) {
        if (onPlatform) {
          row[Col.Status] = 'inactive';
          expected.updates++;
          expected.deactivations++;
        }
      } else if (roll < removed + deactivated + changed) {
        changeOneField(random, row);
        if (onPlatform) expected.updates++;
      }
      yield row;
    }
    if ((index + 1) % addEvery === 0 && added < addedTotal) {
      const newcomer = memberRow(seed, rows + added);
      added++;
      if (isInvitable(newcomer)) expected.invites++;
      yield newcomer;
    }
  }
  while (added < addedTotal) {
    const newcomer = memberRow(seed, rows + added);
    added++;
    if (isInvitable(newcomer)) expected.invites++;
    yield newcomer;
  }
}

const CHUNK_ROWS = 2000;

async function writeRows(file: string, rows: Iterable<Row>, headers: readonly string[] = BENCH_HEADERS): Promise<{ rows: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  function* chunks(): Generator<string> {
    let chunk = csvLine(headers);
    let inChunk = 0;
    for (const row of rows) {
      chunk += csvLine(row);
      count++;
      if (++inChunk === CHUNK_ROWS) {
        bytes += Buffer.byteLength(chunk);
        yield chunk;
        chunk = '';
        inChunk = 0;
      }
    }
    if (chunk) {
      bytes += Buffer.byteLength(chunk);
      yield chunk;
    }
  }
  await pipeline(Readable.from(chunks()), createWriteStream(file));
  return { rows: count, bytes };
}

/** "100k", "1M", or the number itself. */
export function sizeLabel(rows: number): string {
  if (rows >= 1_000_000 && rows % 1_000_000 === 0) return `${rows / 1_000_000}M`;
  if (rows >= 1000 && rows % 1000 === 0) return `${rows / 1000}k`;
  return String(rows);
}

export function benchFileNames(rows: number): { previous: string; next: string; meta: string } {
  const label = sizeLabel(rows);
  return {
    previous: `bench ${label} - 01.13.2023.csv`,
    next: `bench ${label} - 02.13.2023.csv`,
    meta: `bench ${label}.json`,
  };
}

/** Writes the previous and next files for ROWS members into DIR (always regenerates). */
export async function generateBenchFiles(dir: string, rows: number, seed = DEFAULT_SEED): Promise<BenchFiles> {
  await mkdir(dir, { recursive: true });
  const names = benchFileNames(rows);
  const write = async (name: string, make: (expected: ExpectedCounts) => Iterable<Row>): Promise<GeneratedFile> => {
    const expected = emptyCounts();
    const file = path.join(dir, name);
    const written = await writeRows(file, make(expected));
    return { path: file, name, ...written, expected };
  };
  const previous = await write(names.previous, (expected) => previousRows(seed, rows, expected));
  const next = await write(names.next, (expected) => nextRows(seed, rows, expected));
  const files: BenchFiles = { rows, seed, previous, next };
  await writeFile(path.join(dir, names.meta), JSON.stringify({ version: GENERATOR_VERSION, ...files }, null, 2) + '\n');
  return files;
}

/**
 * The next file without its last column (Locale): every row's hash differs from the previous file's (its
 * columns changed), so a diff compares every row field by field; the outcome is the next file's (a field
 * the file no longer carries is not a change). Written to DIR each time (a few seconds at 1M rows).
 */
export async function writeNextWithoutLastColumn(dir: string, rows: number, seed = DEFAULT_SEED): Promise<GeneratedFile> {
  const name = `bench ${sizeLabel(rows)} - 02.13.2023 without ${BENCH_HEADERS[BENCH_HEADERS.length - 1]}.csv`;
  const file = path.join(dir, name);
  const expected = emptyCounts();
  function* withoutLast(): Generator<Row> {
    for (const row of nextRows(seed, rows, expected)) yield row.slice(0, -1);
  }
  const written = await writeRows(file, withoutLast(), BENCH_HEADERS.slice(0, -1));
  return { path: file, name, ...written, expected };
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch {
    return undefined;
  }
}

/** The files for ROWS in DIR: reused when present with the recorded sizes (same generator and seed), else generated. */
export async function ensureBenchFiles(dir: string, rows: number, seed = DEFAULT_SEED): Promise<BenchFiles & { reused: boolean }> {
  const names = benchFileNames(rows);
  try {
    const meta = JSON.parse(await readFile(path.join(dir, names.meta), 'utf8')) as BenchFiles & { version: number };
    const intact =
      meta.version === GENERATOR_VERSION &&
      meta.seed === seed &&
      meta.rows === rows &&
      (await sizeOf(path.join(dir, names.previous))) === meta.previous.bytes &&
      (await sizeOf(path.join(dir, names.next))) === meta.next.bytes;
    if (intact) {
      const at = (file: GeneratedFile): GeneratedFile => ({ ...file, path: path.join(dir, file.name) });
      return { rows, seed, previous: at(meta.previous), next: at(meta.next), reused: true };
    }
  } catch {
    // no or unreadable metadata: generate
  }
  return { ...(await generateBenchFiles(dir, rows, seed)), reused: false };
}
