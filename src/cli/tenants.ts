import { terminalName } from '../text/terminal.js';
import type { Command } from 'commander';
import { tenantWatchStatuses, type TenantWatchStatus } from '../store/late-watch.js';
import { EXIT, loadCliContext, withDatabase } from './context.js';

/** One tenant in `hris-ingest tenants --json` (a stable contract: add fields, never rename). */
export interface TenantStatusJson {
  id: string;
  name: string;
  /** expect.every, or null when the tenant is not watched. */
  cadence: string | null;
  lastFile: string | null;
  lastFileAt: string | null;
  /** Due time of the next file (in the past when late); null when not watched. */
  nextExpectedAt: string | null;
  /** Past the due time plus expect.graceHours with no file. */
  late: boolean;
  /** Seconds since the due time when late, else 0. */
  lateBySeconds: number;
}

export function tenantStatusJson(status: TenantWatchStatus): TenantStatusJson {
  return {
    id: status.id,
    name: status.name,
    cadence: status.cadence,
    lastFile: status.lastFile?.name ?? null,
    lastFileAt: status.lastFile?.at.toISOString() ?? null,
    nextExpectedAt: status.state?.nextExpectedAt.toISOString() ?? null,
    late: status.state?.late ?? false,
    lateBySeconds: Math.round((status.state?.lateByMs ?? 0) / 1000),
  };
}

const minute = (iso: string | null) => (iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : '-');

function hours(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  return h >= 48 ? `${Math.floor(h / 24)} days` : `${h} h`;
}

function formatTenants(list: TenantStatusJson[]): string {
  if (list.length === 0) return 'no tenants configured';
  return list
    .map((t) => {
      const status = t.cadence === null ? 'not watched (no expect:)' : t.late ? `LATE by ${hours(t.lateBySeconds)}` : 'on time';
      return [
        `${t.id} (${t.name}): ${status}`,
        `  every: ${t.cadence ?? '-'}   last file: ${t.lastFile ? `"${terminalName(t.lastFile)}" at ${minute(t.lastFileAt)}` : 'none'}   next expected: ${minute(t.nextExpectedAt)}`,
      ].join('\n');
    })
    .join('\n');
}

/** `hris-ingest tenants [--json]`: every tenant's cadence, last file, next expected file, late or not. */
export function register(program: Command): void {
  program
    .command('tenants')
    .description("every tenant's file cadence (expect:), last file, next expected file and whether it is late")
    .option('--json', 'print one JSON object {tenants:[{id,name,cadence,lastFile,lastFileAt,nextExpectedAt,late,lateBySeconds}]}')
    .action(async (options: { json?: boolean }) => {
      const ctx = await loadCliContext();
      const statuses = await withDatabase(ctx.app, (db) => tenantWatchStatuses(db.pool, ctx.tenants.values(), ctx.app.schedule.timezone, new Date()));
      const list = statuses.map(tenantStatusJson);
      console.log(options.json ? JSON.stringify({ tenants: list }) : formatTenants(list));
      process.exitCode = EXIT.ok;
    });
}
