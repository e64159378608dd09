import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, type TestContext } from 'vitest';
import { tenantConfigSchema, type TenantConfig } from '../src/config/tenant.js';
import type { FileInput, PipelineContext } from '../src/pipeline.js';
import type { Database } from '../src/store/db.js';
import { storedRowSql } from '../src/store/member-rows.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { serviceMissing } from './support/services.js';

/** Test helpers for the engine's tests (pipeline*, diff*, output*, store*). */

/** What each test of a useEngine() suite works with; the fields are replaced before every test. */
export interface Engine {
  db: TestDatabase;
  ctx: PipelineContext;
  /** An empty temporary folder for the run files. */
  out: string;
}

/**
 * Registers beforeEach/afterEach giving every test of the suite a fresh database, the pipeline context
 * on it, and an empty output folder (named OUTDIR...), all removed after the test.
 */
export function useEngine(options: { outDir?: string } = {}): Engine {
  const engine = {} as Engine;
  beforeEach(async () => {
    engine.db = await freshDatabase();
    engine.ctx = { db: engine.db };
    engine.out = await mkdtemp(path.join(tmpdir(), options.outDir ?? 'engine-'));
  });
  afterEach(async () => {
    await engine.db.dispose();
    await rm(engine.out, { recursive: true, force: true });
  });
  return engine;
}

/**
 * Skips the running test, with a printed reason, on embedded PGlite: it has one session, so a second
 * connection cannot wait for a lock the first holds. (Under CI=true there is always a server.)
 */
export function skipOnEmbedded(test: TestContext, db: Database, why: string): void {
  if (db.embedded && serviceMissing('PostgreSQL server', why)) test.skip(why);
}

export const HEADER = ['First Name', 'Last Name', 'Email Address', 'Unique ID', 'Status', 'Program Eligibility', 'City'];

export interface Person {
  first?: string;
  last?: string;
  email?: string;
  id?: string;
  status?: string;
  eligibility?: string;
  city?: string;
}

/** Member N with overrides: email mN@example.com, id EN, active, eligible. */
export function person(n: number, overrides: Person = {}): Person {
  return { first: `First${n}`, last: `Last${n}`, email: `m${n}@example.com`, id: `E${n}`, status: 'active', eligibility: 'eligible', city: 'Paris', ...overrides };
}

/** Members from..to (inclusive), each with the same overrides. */
export function range(from: number, to: number, overrides: Person = {}): Person[] {
  return Array.from({ length: to - from + 1 }, (_, i) => person(from + i, overrides));
}

const quote = (value: string) => (/[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

export function csvOf(people: Person[], header: string[] = HEADER): string {
  const lines = [header.map(quote).join(',')];
  for (const p of people) {
    const byHeader: Record<string, string | undefined> = {
      'First Name': p.first, 'Last Name': p.last, 'Email Address': p.email, 'Unique ID': p.id,
      Status: p.status, 'Program Eligibility': p.eligibility, City: p.city,
    };
    lines.push(header.map((h) => quote(byHeader[h] ?? '')).join(','));
  }
  return `${lines.join('\n')}\n`;
}

export function fileOf(name: string, text: string): FileInput {
  return { name, open: () => Readable.from([Buffer.from(text, 'utf8')]) };
}

export function tenantOf(overrides: Record<string, unknown> = {}): TenantConfig {
  return tenantConfigSchema.parse({ id: 'acme', name: 'Acme', ...overrides });
}

export interface StoredMember {
  member_key: string;
  email: string;
  on_platform: boolean;
  data: Record<string, string>;
}

export async function membersOf(db: Database, tenantId = 'acme'): Promise<Map<string, StoredMember>> {
  const result = await db.pool.query<StoredMember>(
    `select m.member_key, m.email, m.on_platform, ${storedRowSql('m')} as data
     from members m where m.tenant_id = $1 order by m.member_key`,
    [tenantId],
  );
  // every member has its row (in member_rows or its run's change), no row is left without its member, and
  // a member whose row is its change has none in member_rows (src/store/member-rows.ts)
  const orphans = await db.pool.query<{ n: number }>(
    `select count(*)::int as n from member_rows r
     where r.tenant_id = $1 and not exists (select 1 from members m where m.tenant_id = r.tenant_id and m.member_key = r.member_key and not m.row_in_changes)`,
    [tenantId],
  );
  if (orphans.rows[0]!.n > 0 || result.rows.some((r) => r.data === null)) throw new Error('members and member_rows disagree');
  return new Map(result.rows.map((r) => [r.member_key, r]));
}

export async function changesOf(db: Database, runId: number): Promise<{ kind: string; change_type: string | null; member_key: string; changed_fields: string[] | null }[]> {
  const result = await db.pool.query(
    'select kind, change_type, member_key, changed_fields from run_changes where run_id = $1 order by kind, member_key',
    [runId],
  );
  return result.rows;
}

export async function countRows(db: Database, table: string, where = 'true'): Promise<number> {
  const result = await db.pool.query<{ n: number }>(`select count(*)::int as n from ${table} where ${where}`);
  return result.rows[0]!.n;
}
