import type { Queryable } from '../store/db.js';
import { stageColumn } from './sql.js';
import type { KeyField, StageLayout, StageStats } from './types.js';

export interface CheckResult {
  /** Errors written to run_errors. */
  errors: number;
  /** Rows that were valid and are not any more. */
  invalidated: number;
}

/**
 * Rows sharing an email (case-insensitive) or an employee_id: every row involved gets an error naming
 * the other lines, and becomes invalid. Set-based, so memory stays bounded whatever the file: a hash
 * aggregate finds the repeated keys, and only their rows are looked at again.
 */
export async function checkDuplicates(
  client: Queryable,
  layout: StageLayout,
  runId: number,
  nextSeq: number,
  columnOf: (field: KeyField) => string,
): Promise<CheckResult> {
  const result: CheckResult = { errors: 0, invalidated: 0 };
  for (const field of ['email', 'employee_id'] as const) {
    const index = field === 'email' ? layout.email : layout.employeeId;
    if (index < 0) continue;
    // The value as in the file: its cell (with stored members), or its row's jsonb (a first file); an invalid row keeps only the key.
    const valueExpr = `coalesce(s.${stageColumn(index)}, s.data->>'${field}', s.${field})`;
    const inserted = await client.query(
      `with repeated as (
         select ${field} as k from ${layout.table} where ${field} is not null group by ${field} having count(*) > 1
       ), dup as (
         select s.${field} as k, (array_agg(s.line order by s.line))[1:7] as lines, count(*) as n
         from ${layout.table} s join repeated r on r.k = s.${field} group by s.${field}
       ), found as (
         select s.line, ${valueExpr} as value, dup.n, array_remove(dup.lines, s.line) as others
         from ${layout.table} s join dup on dup.k = s.${field}
       )
       insert into run_errors (run_id, seq, line, column_name, value, message)
       select $1, $2 + row_number() over (order by line), line, $3, value,
              'duplicate ${field}: also on line' || case when n > 2 then 's ' else ' ' end
              || array_to_string(others[1:5], ', ')
              || case when n - 1 > 5 then ' and ' || (n - 6) || ' more' else '' end
              || '${field === 'email' ? ' (emails match case-insensitively)' : ''}; each ${field} must be unique in the file'
       from found`,
      [runId, nextSeq + result.errors, columnOf(field)],
    );
    const written = inserted.rowCount ?? 0;
    result.errors += written;
    if (written > 0) {
      const updated = await client.query(
        `update ${layout.table} s set valid = false
         where s.valid and s.${field} in (select ${field} from ${layout.table} where ${field} is not null group by ${field} having count(*) > 1)`,
      );
      result.invalidated += updated.rowCount ?? 0;
    }
  }
  return result;
}

/**
 * Rows (valid or not) whose KEY value other rows have too, in groups whose rows do not all carry one same
 * other identifier (email under the employee_id key and back), or without one the same content (row hash;
 * an invalid row has none and counts as different). Such a group is not one person listed twice: at most
 * one row is the key's member, and the others' members, whoever they are, look absent
 * (src/diff/guardrails.ts skippedRowReasons).
 */
export async function rowsSharingKey(client: Queryable, layout: StageLayout, key: KeyField): Promise<number> {
  const other = key === 'email' ? 'employee_id' : 'email';
  const result = await client.query<{ n: number }>(
    `select coalesce(sum(n), 0)::int as n from (
       select count(*) as n from ${layout.table} where ${key} is not null group by ${key}
       having count(*) > 1 and count(distinct coalesce(${other}, row_hash, chr(1) || line)) > 1
     ) g`,
  );
  return result.rows[0]!.n;
}

/** Key selection: the tenant's setting; auto keeps the tenant's established key, else employee_id when every row has one. */
export function chooseKey(layout: StageLayout, stats: StageStats, mode: 'employee_id' | 'email' | 'auto', previousKey: KeyField | null): KeyField {
  if (mode !== 'auto') return mode;
  if (previousKey) return previousKey;
  if (layout.employeeId < 0) return 'email';
  const rows = stats.validRows + stats.invalidRows;
  const withoutId = stats.validWithoutEmployeeId + stats.invalidWithoutEmployeeId;
  return rows > 0 && withoutId === 0 ? 'employee_id' : 'email';
}

/** Under the employee_id key every row must carry one: a valid row without it becomes invalid. */
export async function requireKey(
  client: Queryable,
  layout: StageLayout,
  key: KeyField,
  stats: StageStats,
  runId: number,
  nextSeq: number,
  column: string,
): Promise<CheckResult> {
  if (key !== 'employee_id' || stats.validWithoutEmployeeId === 0) return { errors: 0, invalidated: 0 };
  const message =
    layout.employeeId < 0
      ? "missing employee_id column: this tenant's members are matched by employee_id"
      : "employee_id is required: this tenant's members are matched by employee_id";
  const result = await client.query(
    `with missing as (
       update ${layout.table} set valid = false where valid and employee_id is null returning line
     )
     insert into run_errors (run_id, seq, line, column_name, value, message)
     select $1, $2 + row_number() over (order by line), line, $4, '', $3 from missing`,
    [runId, nextSeq, message, column],
  );
  const n = result.rowCount ?? 0;
  return { errors: n, invalidated: n };
}
