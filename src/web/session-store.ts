import { Signer, type UnsignResult } from '@fastify/cookie';
import { randomBytes } from 'node:crypto';
import type {} from '@fastify/session';
import type { Session } from 'fastify';
import type pg from 'pg';

type Callback = (error?: unknown) => void;

/**
 * @fastify/session store in PostgreSQL (table console_sessions): every replica sees every session, and a
 * restart signs nobody out. Expired rows are deleted by the writes (at most once a minute).
 */
export class PgSessionStore {
  private lastSweep = 0;

  constructor(private readonly pool: pg.Pool, private readonly defaultMaxAgeMs: number) {}

  set(sessionId: string, session: Session, callback: Callback): void {
    const expires = session.cookie?.expires ? new Date(session.cookie.expires) : new Date(Date.now() + this.defaultMaxAgeMs);
    this.pool
      .query(
        `insert into console_sessions (id, data, expires_at) values ($1, $2, $3)
         on conflict (id) do update set data = excluded.data, expires_at = excluded.expires_at`,
        [sessionId, JSON.stringify(session), expires],
      )
      .then(() => this.sweep())
      .then(() => callback(), callback);
  }

  get(sessionId: string, callback: (error: unknown, session?: Session | null) => void): void {
    this.pool
      .query<{ data: Session }>('select data from console_sessions where id = $1 and expires_at > now()', [sessionId])
      .then((result) => callback(null, result.rows[0]?.data ?? null), (error: unknown) => callback(error));
  }

  destroy(sessionId: string, callback: Callback): void {
    this.pool.query('delete from console_sessions where id = $1', [sessionId]).then(() => callback(), callback);
  }

  private async sweep(): Promise<void> {
    if (Date.now() - this.lastSweep < 60_000) return;
    this.lastSweep = Date.now();
    await this.pool.query('delete from console_sessions where expires_at <= now()');
  }
}

/** The cookie signing secret: from config, else one random value kept in the database for every replica. */
export async function sessionSecret(pool: pg.Pool, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  await pool.query(`insert into console_settings (key, value) values ('session_secret', $1) on conflict (key) do nothing`, [
    randomBytes(32).toString('base64url'),
  ]);
  const result = await pool.query<{ value: string }>(`select value from console_settings where key = 'session_secret'`);
  return result.rows[0]!.value;
}

/**
 * The session cookie's signer, ready once the secret is loaded (ensure(), before the session plugin reads
 * a cookie): the web server starts, and /healthz answers, while the database is still unreachable.
 */
export class LazySigner {
  private signer: Signer | undefined;
  private loading: Promise<void> | undefined;

  constructor(private readonly load: () => Promise<string>) {}

  async ensure(): Promise<void> {
    if (this.signer) return;
    this.loading ??= this.load().then(
      (secret) => {
        this.signer = new Signer(secret, 'sha256');
      },
      (error: unknown) => {
        this.loading = undefined;
        throw error;
      },
    );
    await this.loading;
  }

  /** Before the secret is loaded (/healthz while the database is down): a throwaway key; such sessions are never saved. */
  private readonly unloaded = new Signer(randomBytes(32).toString('base64url'), 'sha256');

  sign(value: string): string {
    return (this.signer ?? this.unloaded).sign(value);
  }

  unsign(signed: string): UnsignResult {
    if (!this.signer) return { valid: false, renew: false, value: null };
    return this.signer.unsign(signed);
  }
}
