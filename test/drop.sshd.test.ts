import { readFile } from 'node:fs/promises';
import { dropSuite } from './drop.suite.js';
import { serviceMissing } from './support/services.js';
import { SSHD_BINARY, sshdInstalled, startSshd } from './support/sshd.js';

const skip = !sshdInstalled() && serviceMissing('sshd', `${SSHD_BINARY} (openssh-server) or the sftp client is not installed`);

dropSuite('OpenSSH sshd on 127.0.0.1:2022', skip, async () => {
  const sshd = await startSshd();
  const target = { host: sshd.host, port: sshd.port, user: sshd.user, keyFile: sshd.clientKeyFile };
  return {
    connection: {
      host: sshd.host,
      port: sshd.port,
      username: sshd.user,
      privateKey: await readFile(sshd.clientKeyFile),
      hostKeySha256: sshd.hostKeySha256,
      connectTimeoutMs: 5000,
      keepaliveIntervalMs: 2000,
    },
    uploader: target,
    root: sshd.root,
    hostKeySha256: sshd.hostKeySha256,
    // OpenSSH announces its limits (a read of up to 261,120 bytes): ours, 128 KiB, is the smaller.
    readSize: 128 * 1024,
    killConnectionsSync: () => sshd.killSessionsSync(),
    stop: () => sshd.stop(),
  };
});
