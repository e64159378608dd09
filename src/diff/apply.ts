import type { Queryable } from '../store/db.js';
import { materializeMemberRows, memberChangeSql, ROW_KINDS } from '../store/member-rows.js';
import type { KeyField } from './types.js';

/** The key the stored members are matched by (the base run's), and the one the run's changes are keyed by. */
export interface RunKeys {
  stored: KeyField | null;
  run: KeyField | null;
}

/**
 * Moves the tenant's snapshot by a run's changes, set-based: only what changed is written.
 * Invites put the member on the platform; updates and silent stores keep its flag; the stored row
 * (member_rows, or, for a member marked row_in_changes, its change in updated_run_id: src/store/member-rows.ts) keeps fields the
 * file no longer carries (the file's columns overwrite theirs).
 * A run diffed under another key than the store's (the tenant's key setting changed) re-keys the store
 * first: here, when the run is applied, and never before, so that a run rejected or left held changes
 * nothing (a held run approved later is then applied to the store it was compared with).
 */
export async function applyRunChanges(client: Queryable, tenantId: string, runId: number, keys: RunKeys): Promise<void> {
  if (keys.stored && keys.run && keys.stored !== keys.run) await rekeyMembers(client, tenantId, keys.run);
  // A tenant with no stored member (its first file) takes plain inserts: ON CONFLICT's speculative
  // insertion cost 2.4 s (members) of a 1M-row first file on PostgreSQL 15 here (docs/bench.md), and its
  // rows stay in the run's changes. The caller holds the tenant's lock, so nothing can add a member in
  // between; were one there after all, the primary key would fail the run, never merge it wrongly.
  const stored = await client.query<{ any: boolean }>('select exists (select 1 from members where tenant_id = $1) as any', [tenantId]);
  const fresh = !stored.rows[0]!.any;
  // A file without an employee_id column leaves the stored one as it was, as member_rows keeps the field.
  // Setting it null made a later re-key by employee_id fail for members the file had only updated.
  const columns = fresh ? null : await runColumns(client, runId);
  const withId = columns === null || columns.includes('employee_id');
  // The upserts read the run's changes once each: one statement reading them once for both (a materialised
  // CTE) spilled every changed row's jsonb to a temporary file first (57 MB per 100k rows of a first file).
  // A member's row stays in the run's changes when the change is its whole row (src/store/member-rows.ts):
  // a new member's, or one whose row is an earlier run's change with no column this run lacks (WHOLE).
  // Otherwise member_rows first, while members.updated_run_id still tells where a row not yet in
  // member_rows is, to merge it (the file's columns overwrite, the others are kept).
  const whole = columns === null ? [] : await runsWithin(client, tenantId, runId, columns);
  if (!fresh) {
    await client.query(
      `insert into member_rows as r (tenant_id, member_key, data)
       select $1, c.member_key,
              coalesce(case when m.row_in_changes then (select o.data from run_changes o where ${memberChangeSql('o', 'm')}) end, '{}'::jsonb) || c.data
       from run_changes c
       join members m on m.tenant_id = $1 and m.member_key = c.member_key
       where c.run_id = $2 and c.kind in ${ROW_KINDS} and not (m.row_in_changes and m.updated_run_id = any($3::bigint[]))
       on conflict (tenant_id, member_key) do update set data = r.data || excluded.data`,
      [tenantId, runId, whole],
    );
  }
  await client.query(
    `insert into members as mm (tenant_id, member_key, email, employee_id, row_hash, on_platform, updated_run_id, row_in_changes)
     select $1, c.member_key, coalesce(c.email, lower(coalesce(c.data->>'email', ''))), nullif(c.data->>'employee_id', ''), c.row_hash,
            c.kind = 'invite', $2, true
     from run_changes c where c.run_id = $2 and c.kind in ${ROW_KINDS}${
       fresh
         ? ''
         : `
     on conflict (tenant_id, member_key) do update set
       email = excluded.email,
       employee_id = ${withId ? 'excluded.employee_id' : 'mm.employee_id'},
       row_hash = excluded.row_hash,
       on_platform = mm.on_platform or excluded.on_platform,
       updated_run_id = excluded.updated_run_id,
       row_in_changes = mm.row_in_changes and mm.updated_run_id = any($3::bigint[])`
     }`,
    fresh ? [tenantId, runId] : [tenantId, runId, whole],
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

/**
 * The stored members can be matched by KEY (the tenant's key setting changed): each has a value for it,
 * and no two the same. Throws otherwise; changes nothing. Checked before such a run is diffed: a member
 * without the new key would look absent from the file, a deletion.
 */
export async function requireRekeyable(client: Queryable, tenantId: string, key: KeyField): Promise<void> {
  const found = await client.query<{ missing: number; repeated: number }>(
    `select count(*) filter (where v = '')::int as missing, count(*) filter (where v <> '' and n > 1)::int as repeated
     from (select coalesce(${key}, '') as v, count(*) over (partition by coalesce(${key}, '')) as n from members where tenant_id = $1) m`,
    [tenantId],
  );
  const { missing, repeated } = found.rows[0] ?? { missing: 0, repeated: 0 };
  if (missing > 0) {
    throw new Error(`cannot match stored members by ${key}: ${missing} of them have none; import a baseline with ${key} or keep the previous key`);
  }
  if (repeated > 0) {
    throw new Error(
      `cannot match stored members by ${key}: ${repeated} of them share their ${key} with another member; import a baseline with ${key} or keep the previous key`,
    );
  }
}

/** Stored members keyed by one field are re-keyed by the other (the tenant's key setting changed). */
async function rekeyMembers(client: Queryable, tenantId: string, key: KeyField): Promise<void> {
  await requireRekeyable(client, tenantId, key);
  // A row still in a run's changes is found by the member's old key: copied first.
  await materializeMemberRows(client, { tenantId });
  const expression = key;
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

/**
 * The columns of run RUN_ID's file: the fields of one of its changes (every change of a run comes from
 * one file; the run row gets its columns only once the run is recorded, after the apply). Null without
 * a change that carries a row.
 */
async function runColumns(client: Queryable, runId: number): Promise<string[] | null> {
  const found = await client.query<{ columns: string[] }>(
    `select array(select jsonb_object_keys(data)) as columns from run_changes where run_id = $1 and kind in ${ROW_KINDS} limit 1`,
    [runId],
  );
  return found.rows[0]?.columns ?? null;
}

/**
 * The tenant's runs (accepted, changes kept: the only ones members' rows can be in) whose columns are all
 * among COLUMNS, run RUN_ID's: a member's row that is the change of such a run is replaced whole by its
 * change in RUN_ID (nothing of it is left to merge).
 */
async function runsWithin(client: Queryable, tenantId: string, runId: number, columns: string[]): Promise<number[]> {
  const found = await client.query<{ id: string }>(
    `select id from runs
     where tenant_id = $1 and id <> $2 and status = 'accepted' and purged_at is null and columns <@ $3::jsonb`,
    [tenantId, runId, JSON.stringify(columns)],
  );
  return found.rows.map((r) => Number(r.id));
}
