import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface SftpTarget {
  host: string;
  port: number;
  user: string;
  keyFile: string;
}

/**
 * Runs the OpenSSH `sftp` client in batch mode, exactly as a customer's ETL job would:
 * `sftp -P PORT -i KEY -b BATCH user@host`. Resolves with stdout; rejects on a non-zero exit.
 */
export async function sftpBatch(target: SftpTarget, commands: string[]): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sftp-batch-'));
  const batch = path.join(dir, 'batch');
  await writeFile(batch, `${commands.join('\n')}\n`);
  try {
    return await new Promise<string>((resolve, reject) => {
      const child = spawn(
        'sftp',
        [
          '-P', String(target.port),
          '-i', target.keyFile,
          '-o', 'StrictHostKeyChecking=no',
          '-o', 'UserKnownHostsFile=/dev/null',
          '-o', 'LogLevel=ERROR',
          '-o', 'BatchMode=yes',
          '-b', batch,
          `${target.user}@${target.host}`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.once('error', reject);
      child.once('close', (code) => {
        if (code === 0) resolve(stdout);
        else reject(new Error(`sftp exited with ${code}: ${stderr.trim()}\n${stdout.trim()}`));
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
