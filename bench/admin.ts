import pg from 'pg';

/** Runs FN on a client of its own for the benchmark's database set-up (create/drop the scratch database); an unreachable server fails in 5 s. */
export async function withAdmin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * VACUUM (ANALYZE) between the previous and the next file, as autovacuum does in the days or weeks between
 * two files (statistics of the stored snapshot, its hint bits); not measured. Without it the next run pays
 * for both and plans without statistics (`--no-vacuum` measures that case).
 */
export async function vacuumBetweenFiles(url: string): Promise<void> {
  const started = Date.now();
  await withAdmin(url, (client) => client.query('vacuum (analyze)'));
  process.stdout.write(`   vacuum (analyze) between the files, as autovacuum would (not measured): ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
