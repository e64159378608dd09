/**
 * The development drop's SFTP subsystem (dev-server.ts accepts the connection and the user): SFTP v3
 * operations on the local folder the user is jailed to. Paths are mapped into the jail and refused when
 * they (or a symlink on the way) lead out of it.
 */
import type { Stats } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, realpath, rename, rmdir, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import ssh2, { type Attributes, type FileEntry, type SFTPWrapper } from 'ssh2';
import type { Logger } from '../log.js';

const { utils } = ssh2;
const STATUS = utils.sftp.STATUS_CODE;

/** "/a/./b/../c" -> "/a/c"; null when ".." would climb above "/" (refused, not clamped). */
export function normalizeVirtual(p: string): string | null {
  const segments: string[] = [];
  for (const segment of p.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) return null;
      segments.pop();
    } else {
      segments.push(segment);
    }
  }
  return `/${segments.join('/')}`;
}

class SftpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function within(jail: string, real: string): boolean {
  return real === jail || real.startsWith(`${jail}${path.sep}`);
}

/**
 * Maps a client path into the jail. Refuses ".." above the jail, and symlinks (in the parent chain, or
 * the last element when FOLLOW_LAST) that lead outside it.
 */
async function jailed(jail: string, clientPath: string, followLast: boolean): Promise<string> {
  const virtual = normalizeVirtual(clientPath);
  if (virtual === null) throw new SftpError(STATUS.PERMISSION_DENIED, 'path leaves the drop folder');
  if (virtual === '/') return jail;
  const local = path.join(jail, virtual.slice(1));
  let parent: string;
  try {
    parent = await realpath(path.dirname(local));
  } catch {
    throw new SftpError(STATUS.NO_SUCH_FILE, 'no such file or directory');
  }
  if (!within(jail, parent)) throw new SftpError(STATUS.PERMISSION_DENIED, 'path leaves the drop folder');
  const resolved = path.join(parent, path.basename(local));
  if (followLast) {
    try {
      const target = await realpath(resolved);
      if (!within(jail, target)) throw new SftpError(STATUS.PERMISSION_DENIED, 'link leads out of the drop folder');
      return target;
    } catch (error) {
      if (error instanceof SftpError) throw error;
    }
  }
  return resolved;
}

function toAttrs(st: Stats): Attributes {
  return { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, atime: Math.floor(st.atimeMs / 1000), mtime: Math.floor(st.mtimeMs / 1000) };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** An `ls -l` line: clients (ssh2-sftp-client, OpenSSH sftp) read the file type from its first letter. */
function longname(name: string, st: Stats): string {
  const type = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : '-';
  const bits = 'rwxrwxrwx'.split('').map((c, i) => (st.mode & (0o400 >> i) ? c : '-')).join('');
  const m = st.mtime;
  const date = `${MONTHS[m.getMonth()]} ${String(m.getDate()).padStart(2, ' ')} ${String(m.getHours()).padStart(2, '0')}:${String(m.getMinutes()).padStart(2, '0')}`;
  return `${type}${bits} 1 ${st.uid} ${st.gid} ${String(st.size).padStart(8, ' ')} ${date} ${name}`;
}

type Handle = { kind: 'file'; fd: FileHandle } | { kind: 'dir'; local: string; entries: FileEntry[] | null; offset: number };

const MAX_READ = 256 * 1024;
const DIR_BATCH = 100;

/**
 * Serves one SFTP session jailed to JAIL. Long, but one table: a handler of a few lines per SFTP request
 * type, sharing the session's open handles; not on the pipeline's path (a development aid).
 */
export function serveSftp(sftp: SFTPWrapper, jail: string, logger: Logger): void {
  const handles = new Map<number, Handle>();
  let nextHandle = 1;
  const newHandle = (h: Handle): Buffer => {
    const id = nextHandle++;
    handles.set(id, h);
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(id, 0);
    return buf;
  };
  const handleOf = (buf: Buffer): [number, Handle] => {
    const id = buf.length === 4 ? buf.readUInt32BE(0) : -1;
    const h = handles.get(id);
    if (!h) throw new SftpError(STATUS.FAILURE, 'invalid handle');
    return [id, h];
  };
  const fileOf = (buf: Buffer): FileHandle => {
    const [, h] = handleOf(buf);
    if (h.kind !== 'file') throw new SftpError(STATUS.FAILURE, 'not a file handle');
    return h.fd;
  };

  /** Runs an operation; errors become SFTP status replies. */
  const op = (reqid: number, name: string, fn: () => Promise<void>): void => {
    fn().catch((error: unknown) => {
      if (error instanceof SftpError) return sftp.status(reqid, error.status, error.message);
      const code = (error as NodeJS.ErrnoException).code;
      const status =
        code === 'ENOENT' || code === 'ENOTDIR'
          ? STATUS.NO_SUCH_FILE
          : code === 'EACCES' || code === 'EPERM'
            ? STATUS.PERMISSION_DENIED
            : STATUS.FAILURE;
      logger.debug({ op: name, code }, 'dev drop operation failed');
      sftp.status(reqid, status, code ?? 'failure');
    });
  };
  const ok = (reqid: number) => sftp.status(reqid, STATUS.OK);

  sftp.on('OPEN', (reqid, filename, flags, attrs) =>
    op(reqid, 'open', async () => {
      const mode = utils.sftp.flagsToString(flags);
      if (!mode) throw new SftpError(STATUS.OP_UNSUPPORTED, 'unsupported open flags');
      const local = await jailed(jail, filename, true);
      const fd = await open(local, mode, typeof attrs?.mode === 'number' ? attrs.mode & 0o777 : 0o644);
      if ((await fd.stat()).isDirectory()) {
        await fd.close();
        throw new SftpError(STATUS.FAILURE, 'is a directory');
      }
      sftp.handle(reqid, newHandle({ kind: 'file', fd }));
    }),
  );
  sftp.on('READ', (reqid, handle, offset, length) =>
    op(reqid, 'read', async () => {
      const fd = fileOf(handle);
      const buffer = Buffer.alloc(Math.min(length, MAX_READ));
      const { bytesRead } = await fd.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) return void sftp.status(reqid, STATUS.EOF);
      sftp.data(reqid, buffer.subarray(0, bytesRead));
    }),
  );
  sftp.on('WRITE', (reqid, handle, offset, data) =>
    op(reqid, 'write', async () => {
      await fileOf(handle).write(data, 0, data.length, offset);
      ok(reqid);
    }),
  );
  sftp.on('FSTAT', (reqid, handle) =>
    op(reqid, 'fstat', async () => {
      sftp.attrs(reqid, toAttrs(await fileOf(handle).stat()));
    }),
  );
  sftp.on('FSETSTAT', (reqid, handle, attrs) =>
    op(reqid, 'fsetstat', async () => {
      const fd = fileOf(handle);
      if (typeof attrs.mode === 'number') await fd.chmod(attrs.mode & 0o777);
      if (typeof attrs.atime === 'number' && typeof attrs.mtime === 'number') await fd.utimes(attrs.atime, attrs.mtime);
      ok(reqid);
    }),
  );
  sftp.on('SETSTAT', (reqid, clientPath, attrs) =>
    op(reqid, 'setstat', async () => {
      const local = await jailed(jail, clientPath, true);
      if (typeof attrs.mode === 'number') await chmod(local, attrs.mode & 0o777);
      if (typeof attrs.atime === 'number' && typeof attrs.mtime === 'number') await utimes(local, attrs.atime, attrs.mtime);
      ok(reqid);
    }),
  );
  sftp.on('CLOSE', (reqid, handle) =>
    op(reqid, 'close', async () => {
      const [id, h] = handleOf(handle);
      handles.delete(id);
      if (h.kind === 'file') await h.fd.close();
      ok(reqid);
    }),
  );
  sftp.on('OPENDIR', (reqid, clientPath) =>
    op(reqid, 'opendir', async () => {
      const local = await jailed(jail, clientPath, true);
      if (!(await stat(local)).isDirectory()) throw new SftpError(STATUS.FAILURE, 'not a directory');
      sftp.handle(reqid, newHandle({ kind: 'dir', local, entries: null, offset: 0 }));
    }),
  );
  sftp.on('READDIR', (reqid, handle) =>
    op(reqid, 'readdir', async () => {
      const [, h] = handleOf(handle);
      if (h.kind !== 'dir') throw new SftpError(STATUS.FAILURE, 'not a directory handle');
      if (!h.entries) {
        h.entries = [];
        for (const name of (await readdir(h.local)).sort()) {
          try {
            const st = await lstat(path.join(h.local, name));
            h.entries.push({ filename: name, longname: longname(name, st), attrs: toAttrs(st) });
          } catch {
            // removed meanwhile
          }
        }
      }
      // Batches: one reply with every entry of a big folder would exceed the packet limit.
      const batch = h.entries.slice(h.offset, h.offset + DIR_BATCH);
      h.offset += batch.length;
      if (batch.length === 0) return void sftp.status(reqid, STATUS.EOF);
      sftp.name(reqid, batch);
    }),
  );
  sftp.on('LSTAT', (reqid, clientPath) =>
    op(reqid, 'lstat', async () => {
      sftp.attrs(reqid, toAttrs(await lstat(await jailed(jail, clientPath, false))));
    }),
  );
  sftp.on('STAT', (reqid, clientPath) =>
    op(reqid, 'stat', async () => {
      sftp.attrs(reqid, toAttrs(await stat(await jailed(jail, clientPath, true))));
    }),
  );
  sftp.on('REMOVE', (reqid, clientPath) =>
    op(reqid, 'remove', async () => {
      await unlink(await jailed(jail, clientPath, false));
      ok(reqid);
    }),
  );
  sftp.on('RMDIR', (reqid, clientPath) =>
    op(reqid, 'rmdir', async () => {
      const local = await jailed(jail, clientPath, false);
      if (local === jail) throw new SftpError(STATUS.PERMISSION_DENIED, 'cannot remove the home folder');
      await rmdir(local);
      ok(reqid);
    }),
  );
  sftp.on('MKDIR', (reqid, clientPath, attrs) =>
    op(reqid, 'mkdir', async () => {
      await mkdir(await jailed(jail, clientPath, false), { mode: typeof attrs?.mode === 'number' ? attrs.mode & 0o777 : 0o755 });
      ok(reqid);
    }),
  );
  sftp.on('RENAME', (reqid, oldPath, newPath) =>
    op(reqid, 'rename', async () => {
      const from = await jailed(jail, oldPath, false);
      const to = await jailed(jail, newPath, false);
      // SFTP v3 rename (as OpenSSH) fails when the target exists.
      const exists = await lstat(to).then(
        () => true,
        () => false,
      );
      if (exists) throw new SftpError(STATUS.FAILURE, 'target exists');
      await rename(from, to);
      ok(reqid);
    }),
  );
  sftp.on('REALPATH', (reqid, clientPath) =>
    op(reqid, 'realpath', async () => {
      // Like a chroot, "/.." is "/" here (clients `cd ..` at the top); file operations refuse it.
      const virtual = path.posix.resolve('/', clientPath);
      sftp.name(reqid, [{ filename: virtual, longname: virtual, attrs: {} as Attributes }]);
    }),
  );
  sftp.on('READLINK', (reqid) => sftp.status(reqid, STATUS.OP_UNSUPPORTED));
  sftp.on('SYMLINK', (reqid) => sftp.status(reqid, STATUS.OP_UNSUPPORTED));
  sftp.on('EXTENDED', (reqid) => sftp.status(reqid, STATUS.OP_UNSUPPORTED));
  // The client's EOF ends the subsystem: without closing our side, OpenSSH's sftp waits forever on exit.
  sftp.on('end', () => sftp.end());
  sftp.on('close', () => {
    for (const h of handles.values()) if (h.kind === 'file') void h.fd.close().catch(() => undefined);
    handles.clear();
  });
}
