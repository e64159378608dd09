/**
 * A held run made moot by a later accepted run (its base moved on): recorded, so nobody is asked to
 * decide it any more. Its status stays 'held' (the four statuses are a contract); the same content may
 * be held again afterwards (a re-upload is diffed against the new state).
 */
export const sql = /* sql */ `
alter table runs add column superseded_by bigint;       -- the accepted run that moved the tenant's state on
alter table runs add column superseded_at timestamptz;
drop index runs_tenant_sha_held;
create unique index runs_tenant_sha_held on runs (tenant_id, sha256) where status = 'held' and superseded_by is null;
`;
