import { blankValue } from '../fields/fields.js';
import { keyValueTrusted } from '../fields/row.js';
import type { Queryable } from '../store/db.js';
import { storedRowSql } from '../store/member-rows.js';
import type { RowFilter } from './filter.js';
import { RowHasher } from './row-hash.js';
import type { ReadBatch } from './source.js';
import { literal, stageColumn } from './sql.js';
import { emptyStageStats, KNOWN, LEFT_OUT, ON_PLATFORM, SAME, type RecalledRow, type StageLayout, type StageStats } from './types.js';

/** Matching rows against the stored members, leaving unchanged ones out (src/diff/filter.ts). */
export interface StageFilter {
  filter: RowFilter;
  tenantId: string;
}

let stageCounter = 0;

/** The staging table's fixed columns; the file's columns (c0 .. cN, text) follow. */
const STAGE_COLUMNS = [
  'line integer not null,',
  'valid boolean not null,',
  'email text,',
  'employee_id text,',
  'row_hash text,',
  'm_on_platform boolean,',
  'm_same boolean,',
  'invitable boolean,',
  'm_data jsonb,',
  'changed text[],',
  'data jsonb',
];

/** "Invitable" (DESIGN.md): status is not inactive and eligibility not ineligible (missing or blank counts as active / eligible). */
export function isInvitable(values: Readonly<Record<string, string>>): boolean {
  return values.status !== 'inactive' && values.program_eligibility !== 'ineligible';
}

/** A session-local staging table for one file; dropped at the end of the transaction. */
export async function createStage(client: Queryable, columns: string[]): Promise<StageLayout> {
  const table = `ingest_stage_${++stageCounter}`;
  const valueColumns = columns.map((_, i) => `${stageColumn(i)} text`).join(', ');
  await client.query(
    // m_on_platform: null = no stored member with the row's key, else the member's flag; m_same: the
    // row hash equals the stored one (both filled in by the filter while reading); invitable: valid rows;
    // m_data, changed: for a valid row of a member on the platform whose hash differs, the stored row and
    // the fields that differ from it (filled in while staging with stored members to match); data: a valid
    // row as jsonb; c0 .. cN: the row's cells (staged only with stored members to compare with).
    `create temp table ${table} (${STAGE_COLUMNS.join(' ')}${
      valueColumns ? `, ${valueColumns}` : ''
    }) on commit drop`,
  );
  return {
    table,
    columns,
    email: columns.indexOf('email'),
    employeeId: columns.indexOf('employee_id'),
    status: columns.indexOf('status'),
  };
}

/**
 * Streams reader batches into the staging table and the row issues into run_errors. Each batch goes
 * as one jsonb array (JSON.stringify is native; pg's array serialisation costs several times more),
 * with one insert on the wire while the next batch is parsed. Every valid row gets its row hash here;
 * with a filter, the rows it leaves out are counted but not sent.
 */
export class StageWriter {
  readonly stats: StageStats = emptyStageStats();
  /** The batch sent and not yet confirmed. */
  private inFlight: Promise<unknown> = Promise.resolve();
  private readonly insertSql: string;
  private readonly hasher: RowHasher;

  constructor(
    private readonly client: Queryable,
    private readonly layout: StageLayout,
    private readonly runId: number,
    private readonly filter: StageFilter | null = null,
  ) {
    this.hasher = new RowHasher(layout.columns);
    this.insertSql = stageInsertSql(layout, filter);
  }

  async add(batch: ReadBatch): Promise<void> {
    const { columns } = this.layout;
    if (batch.rows.length + batch.invalid.length === 0) return;
    const records: unknown[] = [];
    const filter = this.filter?.filter;
    const hasher = this.hasher;
    for (const row of batch.rows) {
      const email = lowerOrNull(row.values.email);
      const employeeId = blankToNull(row.values.employee_id);
      if (employeeId === null) this.stats.validWithoutEmployeeId++;
      hasher.hash(row.values);
      const invitable = isInvitable(row.values);
      const state = filter ? filter.takeValid(row.line, email, employeeId, hasher, invitable) : 0;
      if (state === LEFT_OUT) continue;
      const record: unknown[] = [row.line, 1, email, employeeId, hasher.hex(), state, invitable ? 1 : 0];
      // Without stored members the row goes as its object, which the server stores as the row's jsonb
      // as it parses the batch (see stageInsertSql); with them, as cells to compare with stored rows.
      if (filter) for (const column of columns) record.push(row.values[column] ?? '');
      else record.push(row.values);
      records.push(record);
    }
    const errorLines: number[] = [];
    const errorSeqs: number[] = [];
    const errorColumns: string[] = [];
    const errorValues: string[] = [];
    const errorMessages: string[] = [];
    for (const row of batch.invalid) {
      // Invalid rows keep only their key values: enough to carry their members forward.
      const email = lowerOrNull(row.values.email);
      const employeeId = blankToNull(row.values.employee_id);
      if (email === null) this.stats.invalidWithoutEmail++;
      if (employeeId === null) this.stats.invalidWithoutEmployeeId++;
      const state = filter ? filter.takeInvalid(email, employeeId) : 0;
      if (filter && !(state & KNOWN) && (filter.key === 'email' ? email : employeeId) !== null && !keyValueTrusted(row, filter.key)) {
        this.stats.invalidUnmatched++;
      }
      records.push([row.line, 0, email, employeeId, null, state, null]);
      for (const issue of row.issues) {
        errorLines.push(issue.line);
        errorSeqs.push(++this.stats.errorCount);
        errorColumns.push(issue.column);
        errorValues.push(withoutNul(issue.value));
        errorMessages.push(withoutNul(issue.message));
      }
    }
    this.stats.validRows += batch.rows.length;
    this.stats.invalidRows += batch.invalid.length;
    if (records.length === 0 && !filter?.hasRecalls) return;

    let json = JSON.stringify(records);
    // PostgreSQL text cannot hold NUL: a NUL in a cell becomes U+FFFD.
    if (json.includes('\\u0000')) json = JSON.stringify(records, (_key, value: unknown) => (typeof value === 'string' ? withoutNul(value) : value));
    // One statement on the wire at a time (pg queues more only with a deprecation warning); the next
    // batch is parsed while the server stores this one.
    await this.settle();
    let work: Promise<unknown> = records.length > 0 ? this.client.query(this.insertSql, this.filter ? [json, this.filter.tenantId] : [json]) : Promise.resolve();
    if (errorSeqs.length > 0) {
      work = work.then(() => insertErrors(this.client, this.runId, errorSeqs, errorLines, errorColumns, errorValues, errorMessages));
    }
    const recalled = filter?.takeRecalls() ?? [];
    if (recalled.length > 0) work = work.then(() => this.stageRecalled(recalled));
    this.inFlight = work;
    this.inFlight.catch(() => undefined); // awaited by the next add() or by finish()
  }

  async finish(): Promise<StageStats> {
    await this.settle();
    const recalled = this.filter?.filter.takeRecalls() ?? [];
    if (recalled.length > 0) await this.stageRecalled(recalled);
    return this.stats;
  }

  /** Rows the filter left out and then recalled, staged from their stored members (same content). */
  private async stageRecalled(recalled: RecalledRow[]): Promise<void> {
    const { filter, tenantId } = this.filter!;
    const { table, columns } = this.layout;
    const cells = columns.map((_, i) => `coalesce(d.data->>$${i + 5}, '')`);
    const names = columns.map((_, i) => `, ${stageColumn(i)}`).join('');
    await this.client.query(
      `insert into ${table} (line, valid, email, employee_id, row_hash, m_on_platform, m_same, invitable${names})
       select r.line, true, m.email, m.employee_id, m.row_hash, m.on_platform, true, r.invitable${cells.map((c) => `, ${c}`).join('')}
       from unnest($1::int[], $2::text[], $3::boolean[]) r(line, k, invitable)
       join members m on m.tenant_id = $4 and m.${filter.keyColumn} = r.k
       cross join lateral (select ${storedRowSql('m')} as data) d`,
      [recalled.map((r) => r.line), recalled.map((r) => r.key), recalled.map((r) => r.invitable), tenantId, ...columns],
    );
  }

  private async settle(): Promise<void> {
    const started = performance.now();
    await this.inFlight;
    this.stats.waitMs += performance.now() - started;
  }

  /** Issues found outside the rows (file-level problems). */
  async addIssues(issues: { line: number | null; column: string; value: string; message: string }[]): Promise<void> {
    await this.finish();
    if (issues.length === 0) return;
    const seqs = issues.map(() => ++this.stats.errorCount);
    await insertErrors(
      this.client,
      this.runId,
      seqs,
      issues.map((i) => i.line),
      issues.map((i) => i.column),
      issues.map((i) => withoutNul(i.value)),
      issues.map((i) => withoutNul(i.message)),
    );
  }
}

function withoutNul(value: string): string {
  return value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
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

// The reader's values are trimmed already.
function lowerOrNull(value: string | undefined): string | null {
  return value ? value.toLowerCase() : null;
}

function blankToNull(value: string | undefined): string | null {
  return value ? value : null;
}

/** Per staged row: the state bits a row of a member on the platform with another row hash has. */
const COMPARE = KNOWN | ON_PLATFORM;

/**
 * The staging insert of one batch (a jsonb array of row arrays, $1). Row array: [line, valid (0/1), email,
 * employee_id, row hash, member state (filter bits), invitable (0/1), then the row's values].
 *
 * Without stored members (a first file) the values are the row's object, kept as the row's jsonb: the
 * server builds it while parsing the batch, where building it from text cells took jsonb_object 6-13 s
 * more per million rows in the diff (docs/bench.md). Nothing is compared, so no cells are staged.
 *
 * With a filter ($2: the tenant) the values are cells c0 .. cN: the rows to compare with their member's
 * stored row fetch it and list the fields that differ, and every valid row gets its jsonb form, while the
 * file is still being read, instead of after.
 */
function stageInsertSql(layout: StageLayout, filter: StageFilter | null): string {
  if (!filter) {
    return (
      `insert into ${layout.table} (line, valid, email, employee_id, row_hash, m_on_platform, m_same, invitable, data) ` +
      `select (e->>0)::int, (e->>1) = '1', e->>2, e->>3, e->>4, null, null, (e->>6) = '1', e->7 from jsonb_array_elements($1::jsonb) e`
    );
  }
  const columns = layout.columns.map((_, i) => stageColumn(i));
  const cells = layout.columns.map((_, i) => `(e->>${i + 7}) as ${stageColumn(i)}`);
  const state = `(e->>5)::int`;
  const rows =
    `select (e->>0)::int as line, (e->>1) = '1' as valid, e->>2 as email, e->>3 as employee_id, e->>4 as row_hash, ` +
    `case when ${state} & ${KNOWN} <> 0 then ${state} & ${ON_PLATFORM} <> 0 end as m_on_platform, ` +
    `case when ${state} & ${KNOWN} <> 0 then ${state} & ${SAME} <> 0 end as m_same, (e->>6) = '1' as invitable, ` +
    `(e->>1) = '1' and ${state} & ${KNOWN | ON_PLATFORM | SAME} = ${COMPARE} as compare` +
    `${cells.map((c) => `, ${c}`).join('')} from jsonb_array_elements($1::jsonb) e`;
  const changed = `case when r.compare then ${changedFieldsSql(layout, (i) => `r.${stageColumn(i)}`, 'd.data')} end`;
  const data = `case when r.valid then ${stageRowJson(layout, 'r')} end`;
  // limit 1: one staged row per file row, whatever the store holds (a pending re-key by email may find
  // several members; the re-key itself then fails). '{}' || data: detoasted once, not once per field.
  const join =
    ` left join lateral (select '{}'::jsonb || ${storedRowSql('m')} as data from members m ` +
    `where r.compare and m.tenant_id = $2 and m.${filter.filter.keyColumn} = r.${filter.filter.key} limit 1) d on true`;
  const names = ['line', 'valid', 'email', 'employee_id', 'row_hash', 'm_on_platform', 'm_same', 'invitable', 'm_data', 'changed', 'data', ...columns];
  return (
    `insert into ${layout.table} (${names.join(', ')}) ` +
    `select r.line, r.valid, r.email, r.employee_id, r.row_hash, r.m_on_platform, r.m_same, r.invitable, ` +
    `d.data, ${changed}, ${data}${columns.map((c) => `, r.${c}`).join('')} ` +
    `from (${rows}) r${join}`
  );
}

/**
 * text[] of the fields whose value (CELL(i)) differs from the stored row DATA (a missing field counts as a
 * blank cell would be stored: '', or en-US for locale; blankValue).
 */
function changedFieldsSql(layout: StageLayout, cell: (index: number) => string, data: string): string {
  if (layout.columns.length === 0) return `'{}'::text[]`;
  const fields = layout.columns.map(
    (name, i) => `case when ${cell(i)} is distinct from coalesce(${data}->>${literal(name)}, ${literal(blankValue(name))}) then ${literal(name)} end`,
  );
  return `array_remove(array[${fields.join(', ')}]::text[], null)`;
}

/**
 * jsonb object of a staged row: column name -> value. jsonb_object(keys, values) over two arrays builds it
 * in about half the time of jsonb_build_object's name/value arguments, which are each type-checked and
 * converted (1M rows of 19 columns: 6.2 s against 11.3 s, the same objects; docs/bench.md), and it has
 * no argument limit.
 */
export function stageRowJson(layout: StageLayout, alias: string): string {
  if (layout.columns.length === 0) return `'{}'::jsonb`;
  const names = layout.columns.map((name) => literal(name)).join(', ');
  const values = layout.columns.map((_, i) => `${alias}.${stageColumn(i)}`).join(', ');
  return `jsonb_object(array[${names}]::text[], array[${values}]::text[])`;
}
