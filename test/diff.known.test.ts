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

  it('finds every key, whatever order the file asks in: the stored order (the next member tried first), reversed, shuffled', async () => {
    await storeMembers('acme', 'E-', 5_000);
    const inOrder = Array.from({ length: 5_000 }, (_, i) => `E-${i}`);
    const shuffled = [...inOrder];
    let seed = 7;
    for (let i = shuffled.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const j = seed % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    // stored order with gaps and strangers between (a member left, another joined), then backwards
    const mixed = inOrder.flatMap((key, i) => (i % 50 === 0 ? ['E-x' + i, key] : i % 70 === 0 ? [] : [key]));
    for (const keys of [inOrder, [...inOrder].reverse(), shuffled, mixed]) {
      const known = await KnownMembers.load(db.pool, 'acme');
      for (const key of keys) {
        const member = known.find(key);
        if (key.startsWith('E-x')) expect(member).toBe(-1);
        else {
          expect(member).toBeGreaterThanOrEqual(0);
          expect(known.keyOf(member)).toBe(key);
          expect(known.hashEquals(member, 0, Number(key.slice(2)))).toBe(true);
        }
      }
    }
  });

  it('keyed by a column that may repeat (a pending re-key), a key finds the same member whatever was found before', async () => {
    // two members share each email: the table's answer must not depend on the previous lookup
    await db.pool.query(`insert into tenants (id, name) values ('acme', 'acme')`);
    await db.pool.query(
      `insert into members (tenant_id, member_key, email, row_hash, on_platform)
       select 'acme', 'K' || i, 'e' || (i / 2) || '@example.com', lpad(to_hex(i), 16, '0'), false from generate_series(0, 999) i`,
    );
    const first = await KnownMembers.load(db.pool, 'acme', 'email');
    const answers = Array.from({ length: 500 }, (_, e) => first.find(`e${e}@example.com`));
    const again = await KnownMembers.load(db.pool, 'acme', 'email');
    for (let e = 499; e >= 0; e--) {
      // looked up twice: after the first, the next member in stored order is its twin, with the same email
      again.find(`e${e}@example.com`);
      expect(again.find(`e${e}@example.com`)).toBe(answers[e]);
    }
    expect(new Set(answers.map((m) => first.keyOf(m))).size).toBe(500);
  });

  it('a tenant with no members loads empty', async () => {
    await storeMembers('other', 'O-', 100);
    const known = await KnownMembers.load(db.pool, 'acme');
    expect(known.size).toBe(0);
    expect(known.find('O-1')).toBe(-1);
  });
});
