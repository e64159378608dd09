import type { Queryable } from '../store/db.js';

export const DETAIL_PAGE_SIZE = 50;

export interface ErrorRow {
  line: number | null;
  column_name: string | null;
  value: string | null;
  message: string;
}

/** One page of a run's validation errors in line order (one more row fetched: is there a next page). */
export async function errorPage(db: Queryable, runId: number, pageNumber: number): Promise<{ rows: ErrorRow[]; more: boolean }> {
  const result = await db.query<ErrorRow>(
    `select line, column_name, left(value, 500) as value, left(message, 1000) as message from run_errors
     where run_id = $1 order by line nulls first, seq offset $2 limit $3`,
    [runId, (pageNumber - 1) * DETAIL_PAGE_SIZE, DETAIL_PAGE_SIZE + 1],
  );
  return { rows: result.rows.slice(0, DETAIL_PAGE_SIZE), more: result.rows.length > DETAIL_PAGE_SIZE };
}

export interface UpdateRow {
  member_key: string;
  line: number | null;
  change_type: string | null;
  changed_fields: string[];
  after: Record<string, string>;
  /** The member's row from the tenant's last accepted run that wrote it before this one (null: no longer kept). */
  before: Record<string, string> | null;
}

/**
 * One page of a run's updates in line order with each member's row before: the latest earlier accepted
 * run of the tenant that wrote the member (invite, update or silent store). Retention may have removed it.
 */
export async function updatePage(db: Queryable, runId: number, tenantId: string, pageNumber: number): Promise<{ rows: UpdateRow[]; more: boolean }> {
  const result = await db.query<UpdateRow>(
    `select c.member_key, c.line, c.change_type, coalesce(c.changed_fields, '{}') as changed_fields, c.data as after, prev.data as before
     from run_changes c
     left join lateral (
       select p.data from runs r join run_changes p on p.run_id = r.id and p.member_key = c.member_key and p.kind in ('invite', 'update', 'store')
       where r.tenant_id = $2 and r.status = 'accepted' and r.id < c.run_id
       order by r.id desc limit 1
     ) prev on true
     where c.run_id = $1 and c.kind = 'update'
     order by c.line offset $3 limit $4`,
    [runId, tenantId, (pageNumber - 1) * DETAIL_PAGE_SIZE, DETAIL_PAGE_SIZE + 1],
  );
  return { rows: result.rows.slice(0, DETAIL_PAGE_SIZE), more: result.rows.length > DETAIL_PAGE_SIZE };
}
