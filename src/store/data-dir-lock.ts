import { open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';

/** The embedded database's folder is in use by another live process. */
export class DataDirBusyError extends Error {
  override name = 'DataDirBusyError';
}

const LOCK_FILE = 'hris-ingest.lock';
/** Folders this process holds (a lock file with our own pid may be left over from an earlier process). */
const held = new Set<string>();

/**
 * Takes DIR for this process: PGlite does not lock its data folder, and two processes writing one folder
 * corrupt it (e.g. `hris-ingest runs approve` while `hris-ingest start` runs on the embedded database).
 * A lock file holds the owner's pid; one whose process is gone is taken over. Returns the release.
 */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const absolute = path.resolve(dir);
  const file = path.join(absolute, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      held.add(absolute);
      return async () => {
        held.delete(absolute);
        await unlink(file).catch(() => undefined);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw busyOr(error, absolute);
      const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (isLive(owner, absolute)) {
        throw new DataDirBusyError(
          `the embedded database in ${absolute} is in use by process ${owner} (another hris-ingest, e.g. \`hris-ingest start\`): ` +
            'stop it first, or point both at one PostgreSQL server with DATABASE_URL',
        );
      }
      await unlink(file).catch(() => undefined); // left by a process that is gone: take it over
    }
  }
}

function isLive(pid: number, dir: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return held.has(dir);
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function busyOr(error: unknown, dir: string): unknown {
  return (error as NodeJS.ErrnoException).code === 'EEXIST'
    ? new DataDirBusyError(`the embedded database in ${dir} was taken by another process while opening it`)
    : error;
}
