import { isoDay } from '../text/dates.js';
import type { Queryable } from './db.js';
import type { DiffCounts, ValidationIssue } from '../types.js';
import type { RunEncryption } from './run-encryption.js';

export type RunStatus = 'accepted' | 'rejected' | 'held' | 'duplicate';
export type RunSource = 'local' | 'drop' | 'baseline';

/** The outcome of one file: the CLI's --json object, plus the run id when it was stored. */
export interface RunSummary {
  runId?: number;
  tenant: string;
  file: string;
  status: RunStatus;
  rows: number;
  key: 'employee_id' | 'email';
  /** updates counts every row of the updates file; deactivations and reactivations are among them. */
  counts: DiffCounts;
  /** The first 100, in line order. */
  errors: ValidationIssue[];
  errorCount: number;
  warnings: string[];
  reasons: string[];
  files: { invites?: string; updates?: string; deletions?: string; errors?: string };
  /** Present when the file was OpenPGP-encrypted (issue 14). */
  encryption?: RunEncryption;
  /** A held run made moot by this later accepted run (src/store/supersede.ts); null otherwise. Added field. */
  supersededBy?: number | null;
}

export interface RunRow {
  id: number;
  tenant_id: string;
  file_name: string;
  file_date: Date | null;
  source: RunSource;
  sha256: string;
  status: RunStatus;
  key_field: 'employee_id' | 'email' | null;
  rows: number;
  counts: Partial<DiffCounts>;
  error_count: number;
  warnings: string[];
  reasons: string[];
  columns: string[];
  base_run_id: number | null;
  duplicate_of: number | null;
  /** A held run made moot by this later accepted run (migration 050): no longer offered for decision. */
  superseded_by: number | null;
  created_at: Date;
  encryption: RunEncryption | null;
}

const RUN_COLUMNS = `id::int as id, tenant_id, file_name, file_date, source, sha256, status, key_field, rows, counts, error_count,
  warnings, reasons, columns, base_run_id::int as base_run_id, duplicate_of::int as duplicate_of,
  superseded_by::int as superseded_by, created_at, encryption`;

export async function ensureTenant(db: Queryable, tenant: { id: string; name: string }): Promise<void> {
  // "do nothing" and a conditional update: an existing row is not locked (a long ingest must not block
  // a preview or the dashboard of the same tenant).
  await db.query('insert into tenants (id, name) values ($1, $2) on conflict (id) do nothing', [tenant.id, tenant.name]);
  await db.query('update tenants set name = $2 where id = $1 and name <> $2', [tenant.id, tenant.name]);
}

/** One process at a time per tenant (held until the transaction ends). */
export async function lockTenant(db: Queryable, tenantId: string): Promise<void> {
  await db.query("select pg_advisory_xact_lock(72616002, hashtext('tenant:' || $1))", [tenantId]);
}

export async function getRun(db: Queryable, runId: number): Promise<RunRow | null> {
  const result = await db.query<RunRow>(`select ${RUN_COLUMNS} from runs where id = $1`, [runId]);
  return result.rows[0] ?? null;
}

/** The tenant's last accepted run (baseline imports included): the base of the next diff. */
export async function lastAcceptedRun(db: Queryable, tenantId: string): Promise<RunRow | null> {
  const result = await db.query<RunRow>(
    `select ${RUN_COLUMNS} from runs where tenant_id = $1 and status = 'accepted' order by id desc limit 1`,
    [tenantId],
  );
  return result.rows[0] ?? null;
}

/**
 * The run this content duplicates: the tenant's last accepted run, or a run still held, with the same
 * content. (Equal to an older accepted file is not a duplicate: against the current state it is a change.)
 */
export async function sameContentRun(db: Queryable, tenantId: string, sha256: string, exceptRunId: number): Promise<RunRow | null> {
  const result = await db.query<RunRow>(
    `select ${RUN_COLUMNS} from runs
     where tenant_id = $1 and sha256 = $2 and id <> $3
       and ((status = 'held' and superseded_by is null) or id = (select max(id) from runs where tenant_id = $1 and status = 'accepted'))
     order by id desc limit 1`,
    [tenantId, sha256, exceptRunId],
  );
  return result.rows[0] ?? null;
}

/** A run row, first written as a placeholder: the transaction fills it in (or rolls it back). */
export async function insertRun(
  db: Queryable,
  run: { tenantId: string; fileName: string; fileDate: Date | null; source: RunSource; baseRunId: number | null },
): Promise<number> {
  const result = await db.query<{ id: number }>(
    `insert into runs (tenant_id, file_name, file_date, source, sha256, status, base_run_id)
     values ($1, $2, $3, $4, '', 'rejected', $5) returning id::int as id`,
    [run.tenantId, run.fileName, run.fileDate ? isoDay(run.fileDate) : null, run.source, run.baseRunId],
  );
  return result.rows[0]!.id;
}

export interface RunOutcome {
  status: RunStatus;
  sha256: string;
  key: 'employee_id' | 'email' | null;
  rows: number;
  counts: DiffCounts;
  errorCount: number;
  warnings: string[];
  reasons: string[];
  columns: string[];
  duplicateOf?: number | null;
  timings: Record<string, number>;
}

export async function finishRun(db: Queryable, runId: number, outcome: RunOutcome): Promise<void> {
  await db.query(
    `update runs set status = $2, sha256 = $3, key_field = $4, rows = $5, counts = $6, error_count = $7, warnings = $8,
       reasons = $9, columns = $10, duplicate_of = $11, timings = $12, finished_at = now()
     where id = $1`,
    [
      runId,
      outcome.status,
      outcome.sha256,
      outcome.key,
      outcome.rows,
      JSON.stringify(outcome.counts),
      outcome.errorCount,
      JSON.stringify(outcome.warnings),
      JSON.stringify(outcome.reasons),
      JSON.stringify(outcome.columns),
      outcome.duplicateOf ?? null,
      JSON.stringify(outcome.timings),
    ],
  );
}

export async function decideRun(
  db: Queryable,
  runId: number,
  decision: { status: 'accepted' | 'rejected'; by: string; reason?: string },
): Promise<void> {
  const note = decision.status === 'accepted' ? `approved by ${decision.by}` : `rejected by ${decision.by}${decision.reason ? `: ${decision.reason}` : ''}`;
  await db.query(
    `update runs set status = $2, decided_by = $3, decided_at = now(), reasons = reasons || $4::jsonb where id = $1`,
    [runId, decision.status, decision.by, JSON.stringify([note])],
  );
}

/** Counts with every outcome present (older or partial rows default to 0). */
export function fullCounts(counts: Partial<DiffCounts>): DiffCounts {
  return {
    invites: counts.invites ?? 0,
    updates: counts.updates ?? 0,
    deactivations: counts.deactivations ?? 0,
    reactivations: counts.reactivations ?? 0,
    deletions: counts.deletions ?? 0,
    unchanged: counts.unchanged ?? 0,
    notInvitable: counts.notInvitable ?? 0,
  };
}

/** The summary of a stored run, from the database. */
export async function loadRunSummary(db: Queryable, runId: number): Promise<RunSummary> {
  const run = await getRun(db, runId);
  if (!run) throw new Error(`run ${runId} not found`);
  const errors = await db.query<{ line: number | null; column_name: string | null; value: string | null; message: string }>(
    'select line, column_name, value, message from run_errors where run_id = $1 order by line nulls first, seq limit 100',
    [runId],
  );
  const files = await db.query<{ kind: keyof RunSummary['files']; file_name: string }>(
    'select kind, file_name from run_files where run_id = $1',
    [runId],
  );
  return {
    runId: run.id,
    tenant: run.tenant_id,
    file: run.file_name,
    status: run.status,
    rows: run.rows,
    key: run.key_field ?? 'email',
    counts: fullCounts(run.counts),
    errors: errors.rows.map((e) => ({ line: e.line ?? 0, column: e.column_name ?? '', value: e.value ?? '', message: e.message })),
    errorCount: run.error_count,
    warnings: run.warnings,
    reasons: run.reasons,
    files: Object.fromEntries(files.rows.map((f) => [f.kind, f.file_name])),
    ...(run.encryption ? { encryption: run.encryption } : {}),
    supersededBy: run.superseded_by,
  };
}
