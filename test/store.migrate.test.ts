import { afterEach, describe, expect, it } from 'vitest';
import { migrate } from '../src/store/migrate.js';
import { MIGRATIONS } from '../src/store/migrations/index.js';
import { freshDatabase, type TestDatabase } from './support/db.js';

describe('migrations', () => {
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.dispose();
    db = undefined;
  });

  it('applies every migration once and is idempotent', async () => {
    db = await freshDatabase();
    const names = (await db.pool.query<{ name: string }>('select name from schema_migrations order by name')).rows.map((r) => r.name);
    expect(names).toEqual(MIGRATIONS.map((m) => m.name).sort());
    expect(await migrate(db.pool)).toEqual([]);
    const tables = (
      await db.pool.query<{ table_name: string }>(
        "select table_name from information_schema.tables where table_schema = 'public'",
      )
    ).rows.map((r) => r.table_name);
    expect(tables).toEqual(expect.arrayContaining(['members', 'runs', 'run_changes', 'run_errors', 'run_files']));
  });
});
