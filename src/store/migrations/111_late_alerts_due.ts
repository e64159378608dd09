/**
 * A late-file window is told apart by its due time, not its number: window numbers count from the anchor
 * in the tenant's cadence, so after `expect.every` changed (weekly -> monthly) the new windows 1..4 met
 * the old ones' numbers and no reminder went out for months. Due times are instants, the same under any
 * cadence (src/store/late-watch.ts claimLateWindow).
 */
export const sql = /* sql */ `
alter table late_alerts drop constraint late_alerts_tenant_id_anchor_at_window_no_key;
create unique index late_alerts_due_idx on late_alerts (tenant_id, anchor_at, due_at);
`;
