/**
 * members loses its foreign key to tenants, like member_rows and run_changes before it: the key's check
 * is a trigger call per inserted row, and a first file inserts a member per row (1M rows: 8.5 s with the
 * key, 5.6 s without, on PostgreSQL 15 here; docs/bench.md). A member is only ever written by a run of
 * its tenant, in the run's transaction, after ensureTenant: the key guarded nothing the code does not.
 */
export const sql = /* sql */ `
alter table members drop constraint if exists members_tenant_id_fkey;
`;
