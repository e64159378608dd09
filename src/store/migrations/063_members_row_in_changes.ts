/**
 * Where a member's stored row is (src/store/member-rows.ts): true when it is the member's change in its
 * updated_run_id (an apply writes no member_rows for a member whose change is its whole row), false when it is in member_rows. Every
 * member stored before this migration has its member_rows row. A constant default: no table rewrite.
 */
export const sql = /* sql */ `
alter table members add column row_in_changes boolean not null default false;
`;
