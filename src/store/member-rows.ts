import type { Queryable } from './db.js';

/**
 * Where a member's stored row is. An applied run writes no member_rows for the members whose change is
 * their whole row: each such member's row is its change in that run (run_changes of members.updated_run_id),
 * marked by members.row_in_changes. That is every member of a first file (a second logged copy of a million
 * rows as keyed jsonb cost 5-6 s of it here, docs/bench.md), and later every new member and every member
 * whose row was a change of a run with no column the new run lacks (src/diff/apply.ts; member_rows took
 * 1.9 s of a 1M next file's 2.9 s apply). Only a row that must merge with what is stored (the member is
 * in member_rows already, or its row has a column the file no longer carries) goes to member_rows, and
 * clears the mark. A member with the mark has no member_rows
 * row. Before the marked rows' changes go (retention) or their key stops matching (a re-key),
 * materializeMemberRows copies them into member_rows.
 *
 * No statement that inserts into member_rows reads member_rows but through its conflict check: a scan
 * planned while the table was empty (right after a first file) ran once per inserted row over the rows
 * inserted so far, and the next file's apply took 130-220 s instead of 3 s.
 */

/** The kinds of change whose row is the member's new row. */
export const ROW_KINDS = `('invite', 'update', 'store')`;

/**
 * SQL condition: C (an alias of `run_changes`) is the change that holds the row of member M (an alias of
 * `members`) while M.row_in_changes is set. Every reader and writer of such rows joins by this one condition.
 */
export function memberChangeSql(c: string, m: string): string {
  return `${c}.run_id = ${m}.updated_run_id and ${c}.kind in ${ROW_KINDS} and ${c}.member_key = ${m}.member_key`;
}

/** SQL: the stored row (jsonb) of the member M (an alias of `members`). */
export function storedRowSql(m: string): string {
  return (
    `case when ${m}.row_in_changes ` +
    `then (select sc.data from run_changes sc where ${memberChangeSql('sc', m)}) ` +
    `else (select sr.data from member_rows sr where sr.tenant_id = ${m}.tenant_id and sr.member_key = ${m}.member_key) end`
  );
}

/**
 * Copies into member_rows the rows of the members whose row is still their change in a run: a tenant's
 * (before its members are re-keyed), or those of runs whose changes are about to be removed (retention).
 * Returns how many rows it copied.
 */
export async function materializeMemberRows(client: Queryable, scope: { tenantId: string } | { runIds: number[] }): Promise<number> {
  const where = 'tenantId' in scope ? 'm.tenant_id = $1' : 'm.updated_run_id = any($1::bigint[])';
  const params = ['tenantId' in scope ? scope.tenantId : scope.runIds];
  const copied = await client.query(
    `insert into member_rows (tenant_id, member_key, data)
     select m.tenant_id, m.member_key, c.data
     from members m join run_changes c on ${memberChangeSql('c', 'm')}
     where ${where} and m.row_in_changes
     on conflict (tenant_id, member_key) do update set data = excluded.data`, // the marked row is the member's (callers hold the tenant's lock)
    params,
  );
  await client.query(`update members m set row_in_changes = false where ${where} and m.row_in_changes`, params);
  return copied.rowCount ?? 0;
}
