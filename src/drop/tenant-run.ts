/** What a tick knows while it works on one tenant, and what it reports (src/drop/poller.ts, src/drop/take-file.ts). */
import type { AppConfig } from '../config/app.js';
import type { TenantConfig } from '../config/tenant.js';
import type { Logger } from '../log.js';
import type { RunSummary } from '../pipeline.js';
import type { Database } from '../store/db.js';
import type { DropConnection, DropSession } from './client.js';
import { tenantLayout, type TenantLayout } from './layout.js';
import type { FileOutcomeKind } from './registry.js';

export type PollEvent =
  | { type: 'file-start'; tenant: string; file: string }
  | { type: 'file-end'; tenant: string; file: string; outcome: FileResult['outcome'] }
  | { type: 'transfer-progress'; tenant: string; file: string; transferred: number; total: number };

export interface PollerContext {
  db: Database;
  app: AppConfig;
  tenants: Map<string, TenantConfig>;
  logger?: Logger;
  /** Identifies this poller in claims (default host:pid:random). */
  pollerId?: string;
  /** Default: from app.drop (or the development drop's own keys). */
  connection?: DropConnection;
  /** Where ingestFile writes the run's files (its default when absent). */
  outDir?: string;
  /** Replaces the database clock for the stability check (tests). */
  clock?: () => Date;
  onEvent?: (event: PollEvent) => void;
  /** fastGet tuning (default: ssh2's 64 parallel reads of 32 KiB). */
  fastGet?: { concurrency?: number; chunkSize?: number };
  /**
   * Ids of the tenants whose tenant file is refused as of now: their folders on the drop are not reported as
   * having no tenant config (the refused file is reported, src/runtime/config-reload.ts).
   */
  refusedTenants?: () => Iterable<string>;
}

/** A file taken this tick; with its run's figures and written files once ingested. */
export interface FileResult extends Partial<Pick<RunSummary, 'rows' | 'counts' | 'errorCount' | 'files'>> {
  tenant: string;
  file: string;
  outcome:
    | FileOutcomeKind
    /** Not stable yet (or a file before it in order is not). */
    | 'waiting'
    /** Changed during the download: must be stable again. */
    | 'changed'
    /** Transfer or ingest failed: retried next tick. */
    | 'failed'
    /** An earlier outcome whose move was pending, or a held run decided since. */
    | 'settled';
  runId?: number;
  movedTo?: string | null;
  error?: string;
  /** From taking the file to its outcome (files taken this tick). */
  durationMs?: number;
}

/** One tenant's turn in a tick (or in settleHeldFile): its claim, drop session and scratch folder. */
export interface TenantRun {
  ctx: PollerContext;
  pollerId: string;
  logger: Logger;
  tenant: TenantConfig;
  layout: TenantLayout;
  session: DropSession;
  results: FileResult[];
  /** Set when the claim could not be extended: stop before doing anything else. */
  claimLost: boolean;
  workDir: string;
}

export function newTenantRun(
  ctx: PollerContext,
  pollerId: string,
  logger: Logger,
  tenant: TenantConfig,
  session: DropSession,
  workDir: string,
  results: FileResult[] = [],
): TenantRun {
  return { ctx, pollerId, logger: logger.child({ tenant: tenant.id }), tenant, layout: tenantLayout(tenant), session, results, claimLost: false, workDir };
}
