import type { Queryable } from '../store/db.js';

/**
 * Moves the tenant's snapshot by a run's changes, set-based: only what changed is written.
 * Invites put the member on the platform; updates and silent stores keep its flag; the stored row
 * (member_rows) keeps fields the file no longer carries (the file's columns overwrite theirs).
 */
export async function applyRunChanges(client: Queryable, tenantId: string, runId: number): Promise<void> {
  // A tenant with no stored member (its first file) takes plain inserts: ON CONFLICT's speculative
  // insertion cost 2.4 s (members) and 3.0 s (member_rows) of a 1M-row first file on PostgreSQL 15 here
  // (docs/bench.md). The caller holds the tenant's lock, so nothing can add a member in between; were one
  // there after all, the primary key would fail the run, never merge it wrongly.
  const stored = await client.query<{ any: boolean }>('select exists (select 1 from members where tenant_id = $1) as any', [tenantId]);
  const fresh = !stored.rows[0]!.any;
  // The upserts read the run's changes once each: one statement reading them once for both (a materialised
  // CTE) spilled every changed row's jsonb to a temporary file first (57 MB per 100k rows of a first file).
  await client.query(
    `insert into members as mm (tenant_id, member_key, email, employee_id, row_hash, on_platform, updated_run_id)
     select $1, c.member_key, lower(coalesce(c.data->>'email', '')), nullif(c.data->>'employee_id', ''), c.row_hash,
            c.kind = 'invite', $2
     from run_changes c where c.run_id = $2 and c.kind in ('invite', 'update', 'store')${
       fresh
         ? ''
         : `
     on conflict (tenant_id, member_key) do update set
       email = excluded.email,
       employee_id = excluded.employee_id,
       row_hash = excluded.row_hash,
       on_platform = mm.on_platform or excluded.on_platform,
       updated_run_id = excluded.updated_run_id`
     }`,
    [tenantId, runId],
  );
  await client.query(
    `insert into member_rows as r (tenant_id, member_key, data)
     select $1, c.member_key, c.data from run_changes c where c.run_id = $2 and c.kind in ('invite', 'update', 'store')${
       fresh ? '' : `
     on conflict (tenant_id, member_key) do update set data = r.data || excluded.data`
     }`,
    [tenantId, runId],
  );
  if (fresh) return; // nobody to delete
  await client.query(
    `with gone as (
       delete from members t using run_changes c
       where c.run_id = $2 and c.kind in ('deletion', 'forget') and t.tenant_id = $1 and t.member_key = c.member_key
       returning t.member_key
     )
     delete from member_rows t using gone where t.tenant_id = $1 and t.member_key = gone.member_key`,
    [tenantId, runId],
  );
}

/** Stored members keyed by one field are re-keyed by the other (the tenant's key setting changed). */
export async function rekeyMembers(client: Queryable, tenantId: string, key: 'employee_id' | 'email'): Promise<void> {
  const expression = key === 'email' ? 'email' : 'employee_id';
  const missing = await client.query<{ n: number }>(
    `select count(*)::int as n from members where tenant_id = $1 and (${expression} is null or ${expression} = '')`,
    [tenantId],
  );
  if ((missing.rows[0]?.n ?? 0) > 0) {
    throw new Error(
      `cannot match stored members by ${key}: ${missing.rows[0]!.n} of them have none; import a baseline with ${key} or keep the previous key`,
    );
  }
  // member_rows first, while members still carries the old keys to join on
  await client.query(
    `update member_rows r set member_key = m.${expression} from members m
     where r.tenant_id = $1 and m.tenant_id = $1 and m.member_key = r.member_key and m.member_key is distinct from m.${expression}`,
    [tenantId],
  );
  await client.query(`update members set member_key = ${expression} where tenant_id = $1 and member_key is distinct from ${expression}`, [
    tenantId,
  ]);
}
