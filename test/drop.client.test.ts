import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDrop, DropUnreachableError, HostKeyError, type DropConnection } from '../src/drop/client.js';
import { fingerprintOfPublicKeyLine } from '../src/drop/fingerprint.js';
import { serviceMissing } from './support/services.js';
import { keygen, sshdInstalled, startSshd, type SshdHandle } from './support/sshd.js';
import { sftpBatch } from './support/sftp-cli.js';

const skip = !sshdInstalled() && serviceMissing('sshd', `${'/usr/sbin/sshd'} (openssh-server) is not installed`);

describe.skipIf(skip)('drop client against OpenSSH sshd', () => {
  let sshd: SshdHandle;
  let connection: DropConnection;

  beforeAll(async () => {
    sshd = await startSshd();
    connection = {
      host: sshd.host,
      port: sshd.port,
      username: sshd.user,
      privateKey: await readFile(sshd.clientKeyFile),
      hostKeySha256: sshd.hostKeySha256,
      connectTimeoutMs: 5000,
      keepaliveIntervalMs: 1000,
    };
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  it('computes fingerprints exactly as ssh-keygen -lf prints them', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fp-'));
    try {
      const expected = await keygen(path.join(dir, 'k'));
      expect(fingerprintOfPublicKeyLine(await readFile(path.join(dir, 'k.pub'), 'utf8'))).toBe(expected);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('connects with the pinned host key and sees what the sftp client uploaded', async () => {
    const local = path.join(os.tmpdir(), `upload-${process.pid}.csv`);
    await writeFile(local, 'email\na@example.com\n');
    await sftpBatch({ host: sshd.host, port: sshd.port, user: sshd.user, keyFile: sshd.clientKeyFile }, [
      '-mkdir /acme',
      '-mkdir /acme/inbox',
      `put ${local} /acme/inbox/file.csv`,
    ]);
    const session = await connectDrop(connection);
    try {
      const listing = await session.sftp.list('/acme/inbox');
      expect(listing.map((f) => [f.name, f.size])).toEqual([['file.csv', 20]]);
    } finally {
      await session.close();
      await rm(local, { force: true });
    }
  });

  it('refuses a changed host key and shows the fingerprint it saw', async () => {
    const wrong = 'SHA256:' + 'A'.repeat(43);
    const error = await connectDrop({ ...connection, hostKeySha256: wrong }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostKeyError);
    expect((error as HostKeyError).seen).toBe(sshd.hostKeySha256);
    expect((error as Error).message).toContain(sshd.hostKeySha256);
    expect((error as Error).message).toContain(wrong);
  });

  it('refuses any host key when none is pinned', async () => {
    const error = await connectDrop({ ...connection, hostKeySha256: '' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostKeyError);
    expect((error as Error).message).toContain(sshd.hostKeySha256);
    expect((error as Error).message).toMatch(/no fingerprint is pinned/);
  });

  it('reports an unreachable drop without leaking the key', async () => {
    const error = await connectDrop({ ...connection, port: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DropUnreachableError);
    expect((error as Error).message).toContain('127.0.0.1:1');
    expect((error as Error).message).not.toContain('PRIVATE KEY');
  });

  it('reports a wrong user key as unreachable (authentication), not as a host key problem', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'key-'));
    try {
      await keygen(path.join(dir, 'other'));
      const error = await connectDrop({ ...connection, privateKey: await readFile(path.join(dir, 'other')) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DropUnreachableError);
      expect((error as Error).message).toMatch(/authentication/i);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
