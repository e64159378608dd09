import path from 'node:path';
import type { TenantConfig } from '../config/tenant.js';

/** Where a tenant's files live on the drop. */
export interface TenantLayout {
  inbox: string;
  processed: string;
  rejected: string;
}

/** Inbox default /<tenant>/inbox; processed/ and rejected/ beside it unless configured. */
export function tenantLayout(tenant: TenantConfig): TenantLayout {
  const inbox = path.posix.normalize(tenant.drop.inbox ?? `/${tenant.id}/inbox`).replace(/(.)\/$/, '$1');
  const parent = path.posix.dirname(inbox);
  return {
    inbox,
    processed: tenant.drop.processed ?? path.posix.join(parent, 'processed'),
    rejected: tenant.drop.rejected ?? path.posix.join(parent, 'rejected'),
  };
}
