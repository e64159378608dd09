import type {} from '@fastify/csrf-protection';
import type {} from '@fastify/session';
import type { AppConfig } from '../config/app.js';
import type { TenantConfig } from '../config/tenant.js';
import type { Logger } from '../log.js';
import type { Role } from '../store/console-users.js';
import type { Database } from '../store/db.js';

/** What the console's routes work with. */
export interface ConsoleContext {
  db: Database;
  app: AppConfig;
  tenants: Map<string, TenantConfig>;
  logger: Logger;
  /** The poller's next tick, when this process runs it (the daemon; not `serve`). */
  nextTick?: () => Date | null;
  /** Where approved runs' files are written (the daemon's outputs folder), as `runs approve --out`. */
  outDir?: string;
}

export interface SignedInUser {
  name: string;
  role: Role;
  /** Signed in by the authenticating proxy (it signs out, not the console). */
  viaProxy?: boolean;
}

const RANK: Record<Role, number> = { viewer: 0, csm: 1, operator: 2 };

/** Whether ROLE may do what NEEDED may (operator > csm > viewer). */
export function allows(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

declare module 'fastify' {
  interface FastifyRequest {
    user?: SignedInUser;
  }
  interface FastifyContextConfig {
    /** Open without signing in (/healthz, /metrics, /login, the stylesheet). */
    public?: boolean;
    /** The least role the route needs (default viewer). */
    role?: Role;
  }
  interface Session {
    userName?: string;
  }
}
