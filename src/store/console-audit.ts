import type { Queryable } from './db.js';

export type AuditAction =
  | 'sign-in'
  | 'sign-in-failed'
  | 'sign-out'
  | 'download'
  | 'preview'
  | 'preview-download'
  | 'approve'
  | 'reject'
  | 'applied'
  | 'user-add'
  | 'user-remove';

export interface AuditEntry {
  id: number;
  at: Date;
  actor: string | null;
  action: AuditAction;
  detail: string;
}

/** DETAIL names runs, files kinds and user names, never member data. */
export async function recordAudit(db: Queryable, entry: { actor: string | null; action: AuditAction; detail?: string }): Promise<void> {
  await db.query('insert into console_audit (actor, action, detail) values ($1, $2, $3)', [entry.actor, entry.action, entry.detail ?? '']);
}

/** Newest first, a page of LIMIT; one more is fetched to know whether a next page exists. */
export async function listAudit(db: Queryable, options: { offset: number; limit: number }): Promise<{ entries: AuditEntry[]; more: boolean }> {
  const result = await db.query<AuditEntry>(
    'select id::int as id, at, actor, action, detail from console_audit order by id desc offset $1 limit $2',
    [options.offset, options.limit + 1],
  );
  return { entries: result.rows.slice(0, options.limit), more: result.rows.length > options.limit };
}
