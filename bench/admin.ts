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
