import { link, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
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
 *
 * The lock appears whole (a file with our pid, linked into place: a reader never sees it empty), and a
 * takeover of a dead owner's lock happens under a second lock file: two processes starting together after
 * a crash both found the lock stale, and the second's unlink removed the first's new lock (both held it).
 */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const absolute = path.resolve(dir);
  const file = path.join(absolute, LOCK_FILE);
  const mine = `${file}.${process.pid}`;
  await writeFile(mine, `${process.pid}\n`);
  try {
    for (let attempt = 0; attempt < 200; attempt++) {
      try {
        await link(mine, file);
        held.add(absolute);
        return async () => {
          held.delete(absolute);
          await unlink(file).catch(() => undefined);
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = await ownerOf(file);
      if (isLive(owner, absolute)) {
        throw new DataDirBusyError(
          `the embedded database in ${absolute} is in use by process ${owner} (another hris-ingest, e.g. \`hris-ingest start\`): ` +
            'stop it first, or point both at one PostgreSQL server with DATABASE_URL',
        );
      }
      await takeOver(file, absolute); // left by a process that is gone
    }
    throw new DataDirBusyError(`the embedded database in ${absolute} could not be taken: its lock kept changing hands`);
  } finally {
    await unlink(mine).catch(() => undefined);
  }
}

/** The pid in a lock file (NaN when it is gone or unreadable). */
async function ownerOf(file: string): Promise<number> {
  return Number((await readFile(file, 'utf8').catch(() => '')).trim());
}

/**
 * Removes FILE if its owner is still gone, holding FILE.takeover meanwhile: one process at a time decides.
 * A takeover lock whose own owner died (killed in these few milliseconds) is removed after a few seconds.
 */
async function takeOver(file: string, dir: string): Promise<void> {
  const takeover = `${file}.takeover`;
  const mine = `${takeover}.${process.pid}`;
  await writeFile(mine, `${process.pid}\n`);
  try {
    await link(mine, takeover);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const since = await stat(takeover).then((s) => Date.now() - s.mtimeMs, () => 0);
    const holder = await ownerOf(takeover);
    if (Number.isInteger(holder) && holder > 0 && !isLive(holder, dir) && since > 5_000) await unlink(takeover).catch(() => undefined);
    await delay(20);
    return;
  } finally {
    await unlink(mine).catch(() => undefined);
  }
  try {
    // Only a lock whose owner is known and gone: one that vanished meanwhile was released, and a new one
    // may be appearing in its place (linking again settles it).
    const owner = await ownerOf(file);
    if (Number.isInteger(owner) && owner > 0 && !isLive(owner, dir)) await unlink(file).catch(() => undefined);
  } finally {
    await unlink(takeover).catch(() => undefined);
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
