/**
 * The customer's fix uploaded under the same name while a file is being archived (a rejected file's
 * errors file is rendered and uploaded between the check and the move): the fix must stay in the inbox,
 * unread files are never settled. Real development drop; the upload lands from the drop's own folder just
 * before the client's rename reaches the server.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { archiveRemoteFile } from '../src/drop/archive.js';
import { connectDrop, type DropSession } from '../src/drop/client.js';
import type { DevDrop } from '../src/drop/dev-server.js';
import type { DropFileRow } from '../src/drop/registry.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { startTestDevDrop } from './support/dev-drop.js';

describe('archiving a file the customer replaces meanwhile', () => {
  let work: string;
  let drop: DevDrop;
  let session: DropSession;
  let db: TestDatabase;
  const inbox = () => path.join(work, 'drop', 'acme', 'inbox');

  beforeEach(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'drop-archive-race-'));
    let connection;
    ({ drop, connection } = await startTestDevDrop(work));
    session = await connectDrop(connection);
    db = await freshDatabase();
    await mkdir(inbox(), { recursive: true });
  });
  afterEach(async () => {
    await session?.close();
    await drop?.stop();
    await db?.dispose();
    await rm(work, { recursive: true, force: true });
  });

  /** The registry row of FILE as it was listed (the old content). */
  async function listedRow(name: string): Promise<DropFileRow> {
    const [listed] = (await session.sftp.list('/acme/inbox')).filter((f) => f.name === name);
    return {
      id: 1, tenantId: 'acme', path: `/acme/inbox/${name}`, fileName: name, size: listed!.size, mtime: Math.floor(listed!.modifyTime / 1000),
      state: 'ingested', outcome: 'accepted', reason: null, runId: null, runStatus: 'accepted', attempts: 1, movedTo: null,
    };
  }

  it('a fix landing just before the move goes back to the inbox; the file itself is moved when nothing replaced it', async () => {
    const name = 'acme - 01.13.2023.csv';
    await writeFile(path.join(inbox(), name), 'old content\n');
    await utimes(path.join(inbox(), name), new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'));
    const row = await listedRow(name);
    // the customer's upload reaches the drop right before our rename does
    const rename = session.sftp.rename.bind(session.sftp);
    let uploaded = false;
    const racing: DropSession = {
      ...session,
      sftp: new Proxy(session.sftp, {
        get: (target, property, receiver) =>
          property === 'rename'
            ? async (from: string, to: string) => {
                if (!uploaded) {
                  uploaded = true;
                  await writeFile(path.join(inbox(), name), 'the fixed file, longer\n');
                }
                return rename(from, to);
              }
            : Reflect.get(target, property, receiver),
      }),
    };
    const layout = { inbox: '/acme/inbox', processed: '/acme/processed', rejected: '/acme/rejected' };
    expect(await archiveRemoteFile(racing, db, layout, row, work)).toEqual({ movedTo: null, why: 'replaced' });
    expect(await readFile(path.join(inbox(), name), 'utf8')).toBe('the fixed file, longer\n');
    expect(await readdir(path.join(work, 'drop', 'acme', 'processed'))).toEqual([]);

    // nothing racing: the listed file is moved
    const again = await listedRow(name);
    expect(await archiveRemoteFile(session, db, layout, again, work)).toEqual({ movedTo: `/acme/processed/${name}` });
    expect(await readdir(inbox())).toEqual([]);
  });
});
