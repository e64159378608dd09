import { createReadStream } from 'node:fs';
import type { Database, Queryable } from './db.js';
import { transaction } from './db.js';

/** The most bytes one row of a preview file holds (and the most a download holds in memory at once). */
const CHUNK_BYTES = 1024 * 1024;

export interface PreviewFileKey {
  token: string;
  kind: string;
  /** Only the user who made the preview downloads its files. */
  user: string;
}

/**
 * Keeps FILE (a preview's output file) under KEY until EXPIRES_AT, as NAME, in chunks (migration 301): any
 * replica of the console serves it. One transaction: a file is there whole or not at all.
 */
export async function keepPreviewFile(db: Database, key: PreviewFileKey, name: string, expiresAt: Date, file: string): Promise<void> {
  await transaction(db.pool, async (client) => {
    let seq = 0;
    for await (const chunk of createReadStream(file, { highWaterMark: CHUNK_BYTES })) {
      await client.query(
        `insert into console_preview_files (token, kind, seq, user_name, file_name, expires_at, chunk) values ($1, $2, $3, $4, $5, $6, $7)`,
        [key.token, key.kind, seq++, key.user, name, expiresAt.toISOString(), chunk as Buffer],
      );
    }
    // An empty file still exists (one empty chunk), as its link says.
    if (seq === 0) {
      await client.query(
        `insert into console_preview_files (token, kind, seq, user_name, file_name, expires_at, chunk) values ($1, $2, 0, $3, $4, $5, '')`,
        [key.token, key.kind, key.user, name, expiresAt.toISOString()],
      );
    }
  });
}

/** The kept file's name, when KEY names one that has not expired; null otherwise. */
export async function previewFileName(db: Queryable, key: PreviewFileKey): Promise<string | null> {
  const found = await db.query<{ file_name: string }>(
    `select file_name from console_preview_files where token = $1 and kind = $2 and seq = 0 and user_name = $3 and expires_at > now()`,
    [key.token, key.kind, key.user],
  );
  return found.rows[0]?.file_name ?? null;
}

/** The kept file's bytes, a chunk at a time (one query each: memory holds one chunk). */
export async function* previewFileChunks(db: Queryable, key: PreviewFileKey): AsyncGenerator<Buffer> {
  for (let seq = 0; ; seq++) {
    const found = await db.query<{ chunk: Uint8Array }>(
      `select chunk from console_preview_files where token = $1 and kind = $2 and seq = $3 and user_name = $4`,
      [key.token, key.kind, seq, key.user],
    );
    const chunk = found.rows[0]?.chunk;
    if (!chunk) return;
    // pg gives a Buffer, PGlite a Uint8Array
    if (chunk.length > 0) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
  }
}

/** Deletes the files of previews past their time (member data: kept no longer than previewTtlMinutes). */
export async function forgetExpiredPreviews(db: Queryable): Promise<number> {
  // Ten minutes after expiry: a download that began before it (checked once, at its start) reads to its end.
  const deleted = await db.query("delete from console_preview_files where expires_at <= now() - interval '10 minutes'");
  return deleted.rowCount ?? 0;
}
