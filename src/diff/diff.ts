import type { Queryable } from '../store/db.js';
import type { KeyField } from './checks.js';
import { literal, stageColumn } from './sql.js';
import { stageRowJson, type StageLayout } from './stage.js';

export interface DiffCounts {
  invites: number;
  updates: number;
  deactivations: number;
  reactivations: number;
  deletions: number;
  unchanged: number;
  notInvitable: number;
}

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
 * The diff of the staged file against the tenant's stored members, as one set-based statement:
 * a full outer join writes run_changes (invite / update / deletion, and store / forget for silent
 * state changes of members not on the platform) and returns the counts of every outcome.
 */
export async function diffAgainstMembers(
  client: Queryable,
  layout: StageLayout,
  key: KeyField,
  tenantId: string,
  runId: number,
): Promise<DiffResult> {
  const col = (index: number, alias = 'f') => `${alias}.${stageColumn(index)}`;
  const invitable = (alias: string) =>
    [
      layout.status >= 0 ? `coalesce(${col(layout.status, alias)}, '') <> 'inactive'` : 'true',
      layout.eligibility >= 0 ? `coalesce(${col(layout.eligibility, alias)}, '') <> 'ineligible'` : 'true',
    ].join(' and ');
  const changedFields = (alias: string) =>
    layout.columns.length
      ? `array_remove(array[${layout.columns
          .map(
            (name, i) =>
              `case when ${col(i, alias)} is distinct from coalesce(${alias}.m_data->>${literal(name)}, '') then ${literal(name)} end`,
          )
          .join(', ')}]::text[], null)`
      : `'{}'::text[]`;
  // Deactivation / reactivation only when the file carries a status column.
  const changeType =
    layout.status >= 0
      ? `case when coalesce(f.m_data->>'status', '') <> 'inactive' and ${col(layout.status)} = 'inactive' then 'deactivation'
              when coalesce(f.m_data->>'status', '') = 'inactive' and ${col(layout.status)} <> 'inactive' then 'reactivation'
              else 'update' end`
      : `'update'`;

  const statement = `
    with m as (
      select mm.member_key, mm.on_platform, mm.data, mm.row_hash, c.k is not null as carried
      from members mm
      left join (select distinct ${key} as k from ${layout.table} where not valid and ${key} is not null) c on c.k = mm.member_key
      where mm.tenant_id = $1
    ), d as (
      select s.*, s.${key} as s_key, m.member_key as m_key, coalesce(m.on_platform, false) as on_platform,
             m.data as m_data, m.row_hash as m_hash, coalesce(m.carried, false) as carried
      from (select * from ${layout.table} where valid) s
      full join m on m.member_key = s.${key}
    ), e as (
      select d.*,
        case
          when d.line is null then
            case when d.carried then 'carried' when d.on_platform then 'deletion' else 'forget' end
          when d.m_key is null then
            case when ${invitable('d')} then 'invite' else 'store_new' end
          when not d.on_platform then
            case when ${invitable('d')} then 'invite'
                 when d.row_hash is distinct from d.m_hash then 'store' else 'quiet' end
          when d.row_hash = d.m_hash then 'unchanged'
          else 'compare'
        end as outcome0
      from d
    ), f0 as (
      select e.*, case when e.outcome0 = 'compare' then ${changedFields('e')} end as changed
      from e
    ), f as materialized (
      select f0.*,
        case when f0.outcome0 <> 'compare' then f0.outcome0
             when cardinality(f0.changed) > 0 then 'update' else 'unchanged' end as outcome
      from f0
    ), ins as (
      insert into run_changes (run_id, kind, change_type, member_key, line, data, row_hash, changed_fields)
      select $2,
             case f.outcome when 'store_new' then 'store' else f.outcome end,
             case when f.outcome = 'update' then ${changeType} end,
             coalesce(f.s_key, f.m_key),
             f.line,
             case f.outcome when 'deletion' then f.m_data when 'forget' then null else ${stageRowJson(layout, 'f')} end,
             case when f.outcome in ('deletion', 'forget') then null else f.row_hash end,
             case when f.outcome = 'update' then f.changed end
      from f
      where f.outcome in ('invite', 'update', 'store', 'store_new', 'deletion', 'forget')
      returning kind, change_type
    )
    select 'change' as what, kind as outcome, change_type, false as on_platform, count(*)::int as n from ins group by kind, change_type
    union all
    select 'outcome', outcome, null, on_platform, count(*)::int from f group by outcome, on_platform`;
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
  return { counts, onPlatformBefore, carried };
}
