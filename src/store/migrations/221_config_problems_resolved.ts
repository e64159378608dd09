/**
 * A configuration problem no longer seen is marked resolved, and forgotten a day later, instead of at once:
 * replicas whose copies of a tenant file differ (a ConfigMap propagating, one copy out of sync) saw the
 * problem come and go every tick, and each time it came back it was reported again.
 */
export const sql = /* sql */ `
alter table config_problems add column resolved_at timestamptz;
`;
