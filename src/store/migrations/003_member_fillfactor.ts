/**
 * Room on each page of the member tables for the new version of a row: a run updates a few percent of
 * a tenant's members, and an update that fits on its page needs no new index entry (a HOT update), which
 * made applying a run's changes markedly cheaper. Applies to pages written from now on.
 */
export const sql = /* sql */ `
alter table members set (fillfactor = 85);
alter table member_rows set (fillfactor = 85);
`;
