import path from 'node:path';
import { tenantInbox, type TenantConfig } from '../config/tenant.js';

/** Where a tenant's files live on the drop. */
export interface TenantLayout {
  inbox: string;
  processed: string;
  rejected: string;
}

/** Inbox default /<tenant>/inbox; processed/ and rejected/ beside it unless configured. */
export function tenantLayout(tenant: TenantConfig): TenantLayout {
  const inbox = tenantInbox(tenant);
  const parent = path.posix.dirname(inbox);
  return {
    inbox,
    processed: tenant.drop.processed ?? path.posix.join(parent, 'processed'),
    rejected: tenant.drop.rejected ?? path.posix.join(parent, 'rejected'),
  };
}
