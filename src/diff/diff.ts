import type { Queryable } from '../store/db.js';
import { storedRowSql } from '../store/member-rows.js';
import type { DiffCounts, KeptOutInvites } from '../types.js';
import { stageColumn } from './sql.js';
import { stageRowJson } from './stage.js';
import type { KeyField, LeftOut, StageLayout } from './types.js';

export type { DiffCounts } from '../types.js';

export interface DiffResult {
  counts: DiffCounts;
  /** Members on the platform before this run. */
  onPlatformBefore: number;
  /** Members whose row was invalid (skip policy) and who were carried forward unchanged. */
  carried: number;
}

export function emptyCounts(): DiffCounts {
  return { invites: 0, updates: 0, deactivations: 0, reactivations: 0, deletions: 0, unchanged: 0, notInvitable: 0 };
}

/**
 * The diff of the staged file against the tenant's stored members, as one set-based statement: writes
 * run_changes (invite / update / deletion, and store / forget for silent state changes of members not on
 * the platform) and returns the counts of every outcome. FILTERED: what the filter left out, and the
 * table of members no row mentions (null for a first file: nothing is stored). Long because most of it is
 * that one statement; one statement keeps the diff set-based (memory bounded, one pass over the stage).
 */
export async function diffAgainstMembers(
  client: Queryable,
  layout: StageLayout,
  key: KeyField,
  tenantId: string,
  runId: number,
  filtered: LeftOut | null = null,
): Promise<DiffResult> {
  if (!filtered) return diffFirstFile(client, layout, key, runId);
  const col = (index: number, alias: string) => `${alias}.${stageColumn(index)}`;
  // Deactivation / reactivation only when the file carries a status column.
  const changeType =
    layout.status >= 0
      ? `case when coalesce(y.m_data->>'status', '') <> 'inactive' and ${col(layout.status, 'y')} = 'inactive' then 'deactivation'
              when coalesce(y.m_data->>'status', '') = 'inactive' and ${col(layout.status, 'y')} <> 'inactive' then 'reactivation'
              else 'update' end`
      : `'update'`;

  // f: the outcome of every member, from narrow columns only, materialised once: the staged valid rows
  // (what is known of their member was filled in while reading), the members named only by invalid rows
  // (carried forward), and those no row names (absent). The wide rows are fetched only for the few that
  // change; rows compared with their stored row were compared while staged (m_data, changed).
  const statement = `
    with f as materialized (
      select s.line, s.tid, s.s_key, case when s.m_on_platform is not null then s.s_key end as m_key, null::text as stored_key,
        coalesce(s.m_on_platform, false) as on_platform,
        case
          when s.m_on_platform is null then
            case when s.invitable then 'invite' else 'store_new' end
          when not s.m_on_platform then
            case when s.invitable then 'invite' when s.m_same then 'quiet' else 'store' end
          when s.m_same then 'unchanged'
          else 'compare'
        end as outcome0
      from (
        select t.ctid as tid, t.line, t.${key} as s_key, t.m_on_platform, t.m_same, t.invitable
        from ${layout.table} t where t.valid
      ) s
      union all
      select null, null, null, c.k, null, c.on_platform, 'carried'
      from (
        select t.${key} as k, bool_or(t.m_on_platform) as on_platform from ${layout.table} t
        where not t.valid and t.${key} is not null and t.m_on_platform is not null group by t.${key}
      ) c
      where not exists (select 1 from ${layout.table} v where v.valid and v.${key} = c.k)${
        filtered
          ? `
      union all
      select null, null, null, a.k, coalesce(a.member_key, a.k), a.on_platform, case when a.on_platform then 'deletion' else 'forget' end
      from ${filtered.absentTable} a`
          : ''
      }
    ), y as (
      select f.outcome0, f.s_key, f.m_key, st.*, gone.data as gone_data
      from f
      -- offset 0 keeps these as per-row lookups (tid scan, primary key) rather than hashing both tables
      left join lateral (select * from ${layout.table} t where t.ctid = f.tid offset 0) st on true
      left join lateral (
        select ${storedRowSql('m')} as data from members m where m.tenant_id = $1 and m.member_key = f.stored_key and f.outcome0 = 'deletion' offset 0
      ) gone on true
      where f.outcome0 in ('invite', 'store_new', 'store', 'deletion', 'forget', 'compare')
    ), z as (
      select y.*,
        -- equal fields under a different hash (the file's column set changed): a silent store refreshes
        -- the stored hash, so the next file compares by hash again
        case when y.outcome0 <> 'compare' then y.outcome0 when cardinality(y.changed) > 0 then 'update' else 'refresh' end as outcome,
        ${changeType} as change_type
      from y
    ), ins as (
      insert into run_changes (run_id, kind, change_type, member_key, line, data, row_hash, changed_fields, email)
      select $2,
             case when z.outcome in ('store_new', 'refresh') then 'store' else z.outcome end,
             case when z.outcome = 'update' then z.change_type end,
             coalesce(z.s_key, z.m_key),
             z.line,
             case z.outcome when 'deletion' then z.gone_data when 'forget' then null else coalesce(z.data, ${stageRowJson(layout, 'z')}) end,
             case when z.outcome in ('deletion', 'forget') then null else z.row_hash end,
             case when z.outcome = 'update' then z.changed end,
             z.email
      from z
      where z.outcome in ('invite', 'update', 'store', 'store_new', 'refresh', 'deletion', 'forget')
      returning kind, change_type
    )
    select 'change' as what, kind as outcome, change_type, false as on_platform, count(*)::int as n from ins group by kind, change_type
    union all
    select 'outcome', outcome0, null, on_platform, count(*)::int from f group by outcome0, on_platform`;
  const result = await client.query<{ what: string; outcome: string; change_type: string | null; on_platform: boolean; n: number }>(
    statement,
    [tenantId, runId],
  );
  const counts = emptyCounts();
  let onPlatformBefore = 0;
  let carried = 0;
  for (const row of result.rows) {
    if (row.what === 'change') {
      if (row.outcome === 'update') {
        counts.updates += row.n;
        if (row.change_type === 'deactivation') counts.deactivations += row.n;
        if (row.change_type === 'reactivation') counts.reactivations += row.n;
      }
      continue;
    }
    if (row.on_platform) onPlatformBefore += row.n;
    switch (row.outcome) {
      case 'invite':
        counts.invites += row.n;
        break;
      case 'deletion':
        counts.deletions += row.n;
        break;
      case 'unchanged':
      case 'compare': // minus those that turned out to be updates, below
        counts.unchanged += row.n;
        break;
      case 'store':
      case 'store_new':
      case 'quiet':
        counts.notInvitable += row.n;
        break;
      case 'carried':
        carried += row.n;
        break;
      default:
        break;
    }
  }
  counts.unchanged -= counts.updates;
  if (filtered) {
    counts.unchanged += filtered.unchanged;
    counts.notInvitable += filtered.notInvitable;
    onPlatformBefore += filtered.unchanged;
  }
  return { counts, onPlatformBefore, carried };
}

/**
 * Without stored members (a first file) every valid row is an invite (invitable) or a silent store: one
 * scan of the staging table straight into run_changes. The general statement's per-row lookups (tid scan
 * of the staged row, the deleted member's stored row) cost ~60% of this diff on a first file, where every
 * row changes (100k rows: 6.8 s, of which the insert 2.6 s, under load). Each row's jsonb was staged as read.
 */
async function diffFirstFile(client: Queryable, layout: StageLayout, key: KeyField, runId: number): Promise<DiffResult> {
  const result = await client.query<{ kind: string; n: number }>(
    `with ins as (
       insert into run_changes (run_id, kind, change_type, member_key, line, data, row_hash, changed_fields, email)
       select $1, case when t.invitable then 'invite' else 'store' end, null, t.${key}, t.line,
              t.data, t.row_hash, null, t.email
       from ${layout.table} t where t.valid
       returning kind
     ) select kind, count(*)::int as n from ins group by kind`,
    [runId],
  );
  const counts = emptyCounts();
  for (const row of result.rows) {
    if (row.kind === 'invite') counts.invites += row.n;
    else counts.notInvitable += row.n;
  }
  return { counts, onPlatformBefore: 0, carried: 0 };
}

/**
 * Invites of stored members not on the platform whose stored row says status inactive (or eligibility
 * ineligible), counted only when the file has no such column: a missing column counts as active / eligible
 * (DESIGN.md), so a column left out would invite them (src/diff/guardrails.ts droppedColumnReasons). The
 * members are matched as the row filter matched them (KEY_COLUMN: their key, or during a pending re-key the
 * column that holds the new key).
 */
export async function keptOutInvites(
  client: Queryable,
  layout: StageLayout,
  key: KeyField,
  keyColumn: string,
  tenantId: string,
): Promise<KeptOutInvites> {
  const noStatus = layout.status < 0;
  const noEligibility = !layout.columns.includes('program_eligibility');
  if (!noStatus && !noEligibility) return { inactive: 0, ineligible: 0 };
  const found = await client.query<KeptOutInvites>(
    `select count(*) filter (where ${noStatus} and d.data->>'status' = 'inactive')::int as inactive,
            count(*) filter (where ${noEligibility} and d.data->>'program_eligibility' = 'ineligible')::int as ineligible
     from ${layout.table} t
     cross join lateral (select ${storedRowSql('m')} as data from members m where m.tenant_id = $1 and m.${keyColumn} = t.${key} limit 1) d
     where t.valid and t.invitable and t.m_on_platform = false`,
    [tenantId],
  );
  return found.rows[0]!;
}
