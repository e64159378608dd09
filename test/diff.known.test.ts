import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KnownMembers } from '../src/diff/known.js';
import { freshDatabase, type TestDatabase } from './support/db.js';

let db: TestDatabase;
beforeEach(async () => {
  db = await freshDatabase();
});
afterEach(async () => {
  await db.dispose();
});

/** N members of TENANT (keys PREFIX0 ..), hash and flag derived from the number. */
async function storeMembers(tenant: string, prefix: string, n: number): Promise<void> {
  await db.pool.query(`insert into tenants (id, name) values ($1, $1) on conflict do nothing`, [tenant]);
  await db.pool.query(
    `insert into members (tenant_id, member_key, email, row_hash, on_platform)
     select $1, $2 || i, $2 || i || '@example.com', lpad(to_hex(i), 16, '0'), i % 3 = 0 from generate_series(0, $3 - 1) i`,
    [tenant, prefix, n],
  );
}

describe('KnownMembers.load', () => {
  it('loads every member of the tenant, in several chunks, among another tenant interleaved in the table', async () => {
    // 30,000 members: three or more queries of ~12k; the other tenant's rows sit between theirs in the heap
    for (let part = 0; part < 3; part++) {
      await storeMembers('acme', `E${part}-`, 10_000);
      await storeMembers('other', `O${part}-`, 5_000);
    }
    const known = await KnownMembers.load(db.pool, 'acme');
    expect(known.size).toBe(30_000);
    for (let part = 0; part < 3; part++) {
      for (let i = 0; i < 10_000; i += 97) {
        const member = known.find(`E${part}-${i}`);
        expect(member).toBeGreaterThanOrEqual(0);
        expect(known.keyOf(member)).toBe(`E${part}-${i}`);
        expect(known.hashEquals(member, 0, i)).toBe(true);
        expect(known.hashEquals(member, 0, i + 1)).toBe(false);
        expect(known.isOnPlatform(member)).toBe(i % 3 === 0);
      }
    }
    expect(known.find('O0-1')).toBe(-1);
    expect(known.find('E0-10000')).toBe(-1);
    expect([...known.unseen()]).toHaveLength(30_000);
  });

  it('a tenant with no members loads empty', async () => {
    await storeMembers('other', 'O-', 100);
    const known = await KnownMembers.load(db.pool, 'acme');
    expect(known.size).toBe(0);
    expect(known.find('O-1')).toBe(-1);
  });
});
