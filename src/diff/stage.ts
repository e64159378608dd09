import { createHash } from 'node:crypto';
import type { Queryable } from '../store/db.js';
import type { ReadBatch } from './source.js';
import { literal, stageColumn } from './sql.js';

/** Where the well-known fields sit among the file's columns (-1 = the file has no such column). */
export interface StageLayout {
  table: string;
  columns: string[];
  email: number;
  employeeId: number;
  status: number;
  eligibility: number;
}

export interface StageStats {
  validRows: number;
  invalidRows: number;
  /** Valid rows without an employee_id. */
  validWithoutEmployeeId: number;
  /** Errors written to run_errors so far (the next seq). */
  errorCount: number;
}

let stageCounter = 0;

/** A session-local staging table for one file; dropped at the end of the transaction. */
export async function createStage(client: Queryable, columns: string[]): Promise<StageLayout> {
  const table = `ingest_stage_${++stageCounter}`;
  const valueColumns = columns.map((_, i) => `${stageColumn(i)} text`).join(', ');
  await client.query(
    `create temp table ${table} (line integer not null, valid boolean not null, email text, employee_id text, row_hash text${
      valueColumns ? `, ${valueColumns}` : ''
    }) on commit drop`,
  );
  return {
    table,
    columns,
    email: columns.indexOf('email'),
    employeeId: columns.indexOf('employee_id'),
    status: columns.indexOf('status'),
    eligibility: columns.indexOf('program_eligibility'),
  };
}

/**
 * The hash of a row: its column names and values, in column-name order, so that the same content
 * hashes the same whatever the column order of the file.
 */
export function rowHasher(columns: string[]): (values: ReadonlyArray<string>) => string {
  const order = columns.map((name, index) => ({ name, index })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const names = order.map((o) => `${o.name}\u001f`);
  return (values) => {
    let text = '';
    for (let i = 0; i < order.length; i++) text += `${names[i]}${values[order[i]!.index]}\u001e`;
    return createHash('sha1').update(text).digest('base64');
  };
}

/**
 * Streams reader batches into the staging table (batched unnest inserts, at most two in flight)
 * and the row issues into run_errors.
 */
export class StageWriter {
  readonly stats: StageStats = { validRows: 0, invalidRows: 0, validWithoutEmployeeId: 0, errorCount: 0 };
  private inFlight: Promise<unknown> = Promise.resolve();
  private readonly hash: (values: ReadonlyArray<string>) => string;
  private readonly insertSql: string;

  constructor(
    private readonly client: Queryable,
    private readonly layout: StageLayout,
    private readonly runId: number,
  ) {
    this.hash = rowHasher(layout.columns);
    const n = layout.columns.length;
    const params = ['$1::int[]', '$2::boolean[]', '$3::text[]', '$4::text[]', '$5::text[]'];
    for (let i = 0; i < n; i++) params.push(`$${6 + i}::text[]`);
    this.insertSql = `insert into ${layout.table} select * from unnest(${params.join(', ')})`;
  }

  async add(batch: ReadBatch): Promise<void> {
    const { columns } = this.layout;
    const total = batch.rows.length + batch.invalid.length;
    if (total === 0) return;
    const lines = new Array<number>(total);
    const valid = new Array<boolean>(total);
    const emails = new Array<string | null>(total);
    const employeeIds = new Array<string | null>(total);
    const hashes = new Array<string | null>(total);
    const cells = columns.map(() => new Array<string | null>(total));
    const values = new Array<string>(columns.length);
    let r = 0;
    for (const row of batch.rows) {
      for (let c = 0; c < columns.length; c++) {
        const value = row.values[columns[c]!] ?? '';
        values[c] = value;
        cells[c]![r] = value;
      }
      lines[r] = row.line;
      valid[r] = true;
      emails[r] = lowerOrNull(row.values.email);
      const employeeId = blankToNull(row.values.employee_id);
      employeeIds[r] = employeeId;
      if (employeeId === null) this.stats.validWithoutEmployeeId++;
      hashes[r] = this.hash(values);
      r++;
    }
    const errorLines: number[] = [];
    const errorSeqs: number[] = [];
    const errorColumns: string[] = [];
    const errorValues: string[] = [];
    const errorMessages: string[] = [];
    for (const row of batch.invalid) {
      lines[r] = row.line;
      valid[r] = false;
      // Invalid rows keep only their key values: enough to carry their members forward.
      emails[r] = lowerOrNull(row.values.email);
      employeeIds[r] = blankToNull(row.values.employee_id);
      hashes[r] = null;
      for (let c = 0; c < columns.length; c++) cells[c]![r] = null;
      for (const issue of row.issues) {
        errorLines.push(issue.line);
        errorSeqs.push(++this.stats.errorCount);
        errorColumns.push(issue.column);
        errorValues.push(issue.value);
        errorMessages.push(issue.message);
      }
      r++;
    }
    this.stats.validRows += batch.rows.length;
    this.stats.invalidRows += batch.invalid.length;

    const pending: Promise<unknown>[] = [
      this.client.query(this.insertSql, [lines, valid, emails, employeeIds, hashes, ...cells]),
    ];
    if (errorSeqs.length > 0) {
      pending.push(insertErrors(this.client, this.runId, errorSeqs, errorLines, errorColumns, errorValues, errorMessages));
    }
    const current = Promise.all(pending);
    current.catch(() => undefined); // awaited below or in finish()
    const previous = this.inFlight;
    this.inFlight = current;
    await previous;
  }

  async finish(): Promise<StageStats> {
    await this.inFlight;
    return this.stats;
  }

  /** Issues found outside the rows (file-level problems). */
  async addIssues(issues: { line: number | null; column: string; value: string; message: string }[]): Promise<void> {
    await this.inFlight;
    if (issues.length === 0) return;
    const seqs = issues.map(() => ++this.stats.errorCount);
    await insertErrors(
      this.client,
      this.runId,
      seqs,
      issues.map((i) => i.line),
      issues.map((i) => i.column),
      issues.map((i) => i.value),
      issues.map((i) => i.message),
    );
  }
}

function insertErrors(
  client: Queryable,
  runId: number,
  seqs: number[],
  lines: (number | null)[],
  columns: string[],
  values: string[],
  messages: string[],
): Promise<unknown> {
  return client.query(
    `insert into run_errors (run_id, seq, line, column_name, value, message)
     select $1, * from unnest($2::int[], $3::int[], $4::text[], $5::text[], $6::text[])`,
    [runId, seqs, lines, columns, values, messages],
  );
}

function lowerOrNull(value: string | undefined): string | null {
  const trimmed = value?.trim() ?? '';
  return trimmed === '' ? null : trimmed.toLowerCase();
}

function blankToNull(value: string | undefined): string | null {
  const trimmed = value?.trim() ?? '';
  return trimmed === '' ? null : trimmed;
}

/** jsonb object of a staged row: column name -> value. */
export function stageRowJson(layout: StageLayout, alias: string): string {
  if (layout.columns.length === 0) return `'{}'::jsonb`;
  const pairs = layout.columns.map((name, i) => `${literal(name)}, ${alias}.${stageColumn(i)}`);
  // jsonb_build_object takes at most 100 arguments; chunk and concatenate.
  const chunks: string[] = [];
  for (let i = 0; i < pairs.length; i += 40) chunks.push(`jsonb_build_object(${pairs.slice(i, i + 40).join(', ')})`);
  return chunks.join(' || ');
}
