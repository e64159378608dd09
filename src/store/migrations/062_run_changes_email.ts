/**
 * A change carries its member's email as the engine lowercased it (JavaScript's toLowerCase, like the
 * stage and the key): the store took PostgreSQL's lower() of the row's email instead, which differs for
 * some letters ('ΟΔΟΣ' -> 'οδοσ', not 'οδος'; 'İ') and with the database's locale, so a later re-key
 * by email, or the file's duplicate check against recalled members, did not find the member. Null in the
 * changes of runs written before this column (their apply falls back to lower()).
 */
export const sql = /* sql */ `
alter table run_changes add column email text;
`;
