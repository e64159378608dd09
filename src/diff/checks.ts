import type { Queryable } from '../store/db.js';
import type { StageLayout } from './stage.js';
import { stageColumn } from './sql.js';

export type KeyField = 'employee_id' | 'email';

/**
 * Rows sharing an email (case-insensitive) or an employee_id: every row involved gets an error naming
 * the other lines, and becomes invalid. Set-based, so memory stays bounded whatever the file.
 * Returns the number of errors written.
 */
export async function checkDuplicates(client: Queryable, layout: StageLayout, runId: number, nextSeq: number): Promise<number> {
  let written = 0;
  for (const field of ['email', 'employee_id'] as const) {
    const index = field === 'email' ? layout.email : layout.employeeId;
    if (index < 0) continue;
    const label = field === 'email' ? 'email' : 'employee_id';
    const valueExpr = `coalesce(s.${stageColumn(index)}, s.${field})`;
    const result = await client.query(
      `with dup as (
         select ${field} as k, (array_agg(line order by line))[1:7] as lines, count(*) as n
         from ${layout.table} where ${field} is not null group by ${field} having count(*) > 1
       ), found as (
         select s.line, ${valueExpr} as value, dup.n, array_remove(dup.lines, s.line) as others
         from ${layout.table} s join dup on dup.k = s.${field}
       )
       insert into run_errors (run_id, seq, line, column_name, value, message)
       select $1, $2 + row_number() over (order by line), line, $3, value,
              'duplicate ${label}: also on line' || case when n > 2 then 's ' else ' ' end
              || array_to_string(others[1:5], ', ')
              || case when n - 1 > 5 then ' and ' || (n - 6) || ' more' else '' end
              || '${field === 'email' ? ' (emails match case-insensitively)' : ''}; each ${label} must be unique in the file'
       from found`,
      [runId, nextSeq + written, field],
    );
    written += result.rowCount ?? 0;
    if ((result.rowCount ?? 0) > 0) {
      await client.query(
        `update ${layout.table} s set valid = false
         where s.valid and s.${field} in (select ${field} from ${layout.table} where ${field} is not null group by ${field} having count(*) > 1)`,
      );
    }
  }
  return written;
}

/** Key selection: the tenant's setting; auto keeps the tenant's established key, else employee_id when every row has one. */
export async function chooseKey(
  client: Queryable,
  layout: StageLayout,
  mode: 'employee_id' | 'email' | 'auto',
  previousKey: KeyField | null,
): Promise<KeyField> {
  if (mode !== 'auto') return mode;
  if (previousKey) return previousKey;
  if (layout.employeeId < 0) return 'email';
  const result = await client.query<{ missing: boolean; any: boolean }>(
    `select bool_or(employee_id is null) as missing, count(*) > 0 as any from ${layout.table}`,
  );
  const row = result.rows[0];
  return row && row.any && !row.missing ? 'employee_id' : 'email';
}

/** Under the employee_id key every row must carry one: a row without it is invalid. Returns errors written. */
export async function requireKey(client: Queryable, layout: StageLayout, key: KeyField, runId: number, nextSeq: number): Promise<number> {
  if (key !== 'employee_id') return 0;
  const message =
    layout.employeeId < 0
      ? "missing employee_id column: this tenant's members are matched by employee_id"
      : "employee_id is required: this tenant's members are matched by employee_id";
  const result = await client.query(
    `with missing as (
       update ${layout.table} set valid = false where valid and employee_id is null returning line
     )
     insert into run_errors (run_id, seq, line, column_name, value, message)
     select $1, $2 + row_number() over (order by line), line, 'employee_id', '', $3 from missing`,
    [runId, nextSeq, message],
  );
  return result.rowCount ?? 0;
}

/** Counts of rows by validity, and invalid rows whose key is blank (their member cannot be identified). */
export async function stageCounts(
  client: Queryable,
  layout: StageLayout,
  key: KeyField,
): Promise<{ valid: number; invalid: number; invalidWithoutKey: number }> {
  const result = await client.query<{ valid: string; invalid: string; nokey: string }>(
    `select count(*) filter (where valid) as valid, count(*) filter (where not valid) as invalid,
            count(*) filter (where not valid and ${key} is null) as nokey
     from ${layout.table}`,
  );
  const row = result.rows[0]!;
  return { valid: Number(row.valid), invalid: Number(row.invalid), invalidWithoutKey: Number(row.nokey) };
}
