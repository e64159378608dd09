import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDrop } from '../src/drop/client.js';
import { ensureDevDropKeys } from '../src/drop/dev-keys.js';
import { normalizeVirtual } from '../src/drop/dev-sftp.js';
import type { DevDrop } from '../src/drop/dev-server.js';
import { dropSuite } from './drop.suite.js';
import { startTestDevDrop } from './support/dev-drop.js';
import { serviceMissing } from './support/services.js';
import { sftpBatch, type SftpTarget } from './support/sftp-cli.js';
import { keygen } from './support/sshd.js';

const clientsInstalled = existsSync('/usr/bin/sftp') && existsSync('/usr/bin/ssh-keygen');
const skip = !clientsInstalled && serviceMissing('sftp', 'the OpenSSH sftp client and ssh-keygen (openssh-client) are not installed');

async function devDropFixture() {
  const base = await mkdtemp(path.join(os.tmpdir(), 'dev-drop-'));
  const root = path.join(base, 'drop');
  const keysDir = path.join(base, 'drop-keys');
  const etlKey = path.join(base, 'etl_ed25519');
  const acmeKey = path.join(base, 'acme_ed25519');
  await Promise.all([keygen(etlKey), keygen(acmeKey)]);
  // A customer user from the keys folder: jailed to /acme.
  await mkdir(path.join(keysDir, 'users'), { recursive: true });
  await writeFile(path.join(keysDir, 'users', 'acme.pub'), await readFile(`${acmeKey}.pub`));
  const { drop, connection } = await startTestDevDrop(base, { connectTimeoutMs: 5000, keepaliveIntervalMs: 2000 }, [
    { name: 'etl', publicKeys: [await readFile(`${etlKey}.pub`, 'utf8')], home: '/' },
  ]);
  return { base, root, keysDir, etlKey, acmeKey, drop, connection };
}

dropSuite('the development drop server', skip, async () => {
  const f = await devDropFixture();
  return {
    connection: f.connection,
    uploader: { host: f.drop.host, port: f.drop.port, user: 'etl', keyFile: f.etlKey },
    root: f.root,
    hostKeySha256: f.drop.hostKeySha256,
    // Not OpenSSH and no limits extension: ssh2 assumes 31,952 bytes a read.
    readSize: 31_952,
    killConnectionsSync: () => f.drop.disconnectAll(),
    async stop() {
      await f.drop.stop();
      await rm(f.base, { recursive: true, force: true });
    },
  };
});

describe.skipIf(skip)('development drop server', () => {
  let f: Awaited<ReturnType<typeof devDropFixture>>;
  let acme: SftpTarget;
  let drop: DevDrop;

  beforeAll(async () => {
    f = await devDropFixture();
    drop = f.drop;
    acme = { host: drop.host, port: drop.port, user: 'acme', keyFile: f.acmeKey };
  });
  afterAll(async () => {
    await f?.drop.stop();
    await rm(f.base, { recursive: true, force: true });
  });

  it('pins its own generated host key: the fingerprint is the one ssh-keygen -lf prints', async () => {
    const { execFileSync } = await import('node:child_process');
    const printed = execFileSync('ssh-keygen', ['-lf', path.join(f.keysDir, 'host_ed25519.pub')], { encoding: 'utf8' });
    expect(printed.split(/\s+/)[1]).toBe(drop.hostKeySha256);
    // The same key on restart.
    expect((await ensureDevDropKeys(f.keysDir)).host.fingerprint).toBe(drop.hostKeySha256);
  });

  it('jails a customer user to its folder', async () => {
    const local = path.join(f.base, 'up.csv');
    await writeFile(local, 'email\nx@example.com\n');
    const listing = await sftpBatch(acme, ['-mkdir /inbox', `put ${local} /inbox/file.csv`, 'cd ..', 'pwd', 'ls -1 /']);
    expect(await readFile(path.join(f.root, 'acme', 'inbox', 'file.csv'), 'utf8')).toBe('email\nx@example.com\n');
    expect(listing).toMatch(/Remote working directory: \/\n/);
    expect(listing).not.toMatch(/drop-keys|etl_ed25519/);
  });

  it('refuses paths that climb out of the jail, and symlinks that lead out of it', async () => {
    await expect(sftpBatch(acme, ['get /../../../etc/hostname /dev/null'])).rejects.toThrow(/sftp exited/);
    await symlink('/etc', path.join(f.root, 'acme', 'escape'));
    await expect(sftpBatch(acme, ['get /escape/hostname /dev/null'])).rejects.toThrow(/sftp exited/);
    const session = await connectDrop({ ...f.connection, username: 'hris' });
    try {
      await expect(session.sftp.list('/../')).rejects.toThrow(/denied|leaves/i);
      await expect(session.sftp.list('/acme/escape')).rejects.toThrow(/denied|leaves|link/i);
      expect((await session.sftp.list('/acme')).map((e) => e.name).sort()).toEqual(['escape', 'inbox']);
    } finally {
      await session.close();
    }
    expect(normalizeVirtual('/a/./b/../c')).toBe('/a/c');
    expect(normalizeVirtual('/a/../../etc')).toBeNull();
  });

  it('supports what an uploader and the poller need: mkdir, put, rename, ls, get, remove, rmdir', async () => {
    const local = path.join(f.base, 'ops.csv');
    const back = path.join(f.base, 'ops-back.csv');
    await writeFile(local, 'a,b\n1,2\n');
    const out = await sftpBatch(acme, [
      '-mkdir /work',
      `put ${local} /work/one.csv.part`,
      'rename /work/one.csv.part /work/one.csv',
      'ls -l /work',
      `get /work/one.csv ${back}`,
      'rm /work/one.csv',
      'rmdir /work',
    ]);
    expect(out).toMatch(/-rw.* one\.csv/);
    expect(await readFile(back, 'utf8')).toBe('a,b\n1,2\n');
    expect(existsSync(path.join(f.root, 'acme', 'work'))).toBe(false);
  });

  it('refuses a key it does not know', async () => {
    const other = path.join(f.base, 'stranger');
    await keygen(other);
    await expect(sftpBatch({ ...acme, keyFile: other }, ['ls /'])).rejects.toThrow(/sftp exited/);
  });
});
