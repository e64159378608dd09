import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { TenantConfig } from '../config/tenant.js';
import type { ValidationIssue } from '../csv/types.js';
import { fileDateFromName } from '../output/file-date.js';
import { outputFileName, type OutputKind } from '../output/names.js';
import type { RunSummary } from '../store/runs.js';
import { CsvOut } from './csv-out.js';
import { HeldRows } from './held.js';
import { IssueMerger } from './merge.js';
import { changesPass, previousRows, type ChangeOutputs } from './passes.js';
import type { Outcome, MemoryPreviewOptions } from './types.js';
import type { PreviousState } from './previous.js';
import type { FileScan, MemoryFile } from './scan.js';
import { compareCodePoints } from './strings.js';

/** Lines an output file buffers before it writes them. */
const FLUSH_EVERY = 1000;

interface OutputInput {
  tenant: TenantConfig;
  file: MemoryFile;
  scan: FileScan;
  previous: PreviousState | null;
  outcome: Outcome;
  options: MemoryPreviewOptions;
}

/**
 * Compares the changed rows (always: the counts need it) and writes the files the engine's renderer
 * would (src/output/render.ts): invites, updates, deletions for an accepted or held run, the errors when
 * there are any. Files go to OUT_DIR under the tenant's name and the file's date.
 */
export async function writeOutputs(input: OutputInput): Promise<RunSummary['files']> {
  const { tenant, file, scan, previous, outcome, options } = input;
  const { diff } = outcome;
  const outDir = options.outDir;
  const comparing = diff !== undefined && diff.compare.length > 0;
  if (!outDir && !comparing) return {};
  const held = previous && diff ? await heldRows(input, Boolean(outDir)) : null;
  const compare = { rows: diff?.compare ?? new Int32Array(0), held };
  let all: CsvOut[] = [];
  try {
    const outputs = outDir ? await openOutputs(input, outDir) : {};
    all = Object.values(outputs) as CsvOut[];
    const changes: ChangeOutputs | undefined = outputs.invites && outputs.updates ? { invites: outputs.invites, updates: outputs.updates } : undefined;
    const errorsOut = outputs.errors;
    const addIssue = (i: ValidationIssue) => errorsOut?.add([String(i.line), i.column, i.value, i.message]);
    const errors = errorsOut ? new IssueMerger(outcome.laterErrors(), addIssue) : undefined;
    const flush = async () => {
      for (const out of all) await out.flush();
    };
    if (comparing || changes || errors) await changesPass(file, tenant, scan, compare, outcome.counts, { changes, errors, flush });
    // What comes after the pass is written as it goes too: every row of a file can fail a check, and every
    // previous member can be deleted (a header-only file --against a million rows).
    if (errors) await flushEvery(errors.rest(), flush, addIssue);
    const deletions = outputs.deletions;
    if (deletions && diff && previous && held) await flushEvery(deletionLines(diff.deleted, previous, held), flush, (line) => deletions.add(line));
    const files: RunSummary['files'] = {};
    for (const [kind, out] of Object.entries(outputs) as [OutputKind, CsvOut][]) files[kind] = (await out.close()).path;
    return files;
  } catch (error) {
    for (const out of all) await out.discard();
    throw error;
  } finally {
    await held?.close();
  }
}

/** Takes each of ITEMS (ADD writes it), awaiting FLUSH after every FLUSH_EVERY of them. */
async function flushEvery<T>(items: Iterable<T>, flush: () => Promise<void>, add: (item: T) => void): Promise<void> {
  let taken = 0;
  for (const item of items) {
    add(item);
    if (++taken % FLUSH_EVERY === 0) await flush();
  }
}

/** The previous rows of the members compared, and (when files are written) of those deleted: none when none is needed. */
async function heldRows(input: OutputInput, withDeletions: boolean): Promise<HeldRows | null> {
  const { scan, previous, outcome, options, tenant } = input;
  const diff = outcome.diff!;
  if (diff.compare.length === 0 && (!withDeletions || diff.deleted.length === 0)) return null;
  const needed = new Uint8Array(previous!.members);
  for (const i of diff.compare) needed[scan.member![i]!] = 1;
  if (withDeletions) for (const m of diff.deleted) needed[m] = 1;
  const held = await HeldRows.open(previous!.members);
  try {
    await previousRows(options.against!, tenant, previous!.columns, needed, scan.header.columns, held);
    return held;
  } catch (error) {
    await held.close();
    throw error;
  }
}

/** The files this run gets, in the renderer's order. */
async function openOutputs(input: OutputInput, outDir: string): Promise<Partial<Record<OutputKind, CsvOut>>> {
  const { tenant, file, scan, outcome } = input;
  await mkdir(outDir, { recursive: true });
  const date = fileDateFromName(file.name) ?? new Date();
  const name = (kind: OutputKind) => path.join(outDir, outputFileName(tenant.id, date, kind));
  const columns = scan.header.columns.length > 0 ? scan.header.columns : ['email'];
  const outputs: Partial<Record<OutputKind, CsvOut>> = {};
  if (outcome.status === 'accepted' || outcome.status === 'held') {
    outputs.invites = new CsvOut(name('invites'), columns);
    outputs.updates = new CsvOut(name('updates'), [...columns, 'change_type', 'changed_fields']);
    outputs.deletions = new CsvOut(name('deletions'), columns);
  }
  if (outcome.status !== 'duplicate' && outcome.errorCount > 0) outputs.errors = new CsvOut(name('errors'), ['line', 'column', 'value', 'message']);
  return outputs;
}

/** Deleted members' previous rows, ordered by key as PostgreSQL's C collation orders member_key. */
function* deletionLines(deleted: Int32Array, previous: PreviousState, held: HeldRows): Generator<string[]> {
  const keys = Array.from(deleted, (m) => previous.match.keys.get(m));
  const order = Array.from(deleted.keys()).sort((a, b) => compareCodePoints(keys[a]!, keys[b]!));
  for (const k of order) yield held.get(deleted[k]!);
}
