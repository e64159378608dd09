import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appConfigSchema } from '../src/config/app.js';
import { defaultTenant } from '../src/config/tenant.js';
import { EMBEDDED_CRON, ensureUploaderAccess, SAMPLE_FILE_NAME, seedSampleFile, withEmbeddedTiming } from '../src/runtime/embedded.js';

describe('embedded defaults', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hris-embedded-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('polls fast with the development drop, keeps an explicit schedule, and leaves a real drop alone', () => {
    const dev = withEmbeddedTiming(appConfigSchema.parse({}), {});
    expect(dev.schedule.cron).toBe(EMBEDDED_CRON);
    expect(dev.drop.stableSeconds).toBe(5);
    expect(withEmbeddedTiming(appConfigSchema.parse({ schedule: { cron: '*/3 * * * * *' } }), {}).schedule.cron).toBe('*/3 * * * * *');
    expect(withEmbeddedTiming(appConfigSchema.parse({}), { SCHEDULE_CRON: '*/5 * * * *' }).schedule.cron).toBe('*/5 * * * *');
    expect(withEmbeddedTiming(appConfigSchema.parse({ drop: { stableSeconds: 2 } }), {}).drop.stableSeconds).toBe(2);
    const real = appConfigSchema.parse({ drop: { host: 'sftp.example.com' } });
    expect(withEmbeddedTiming(real, {})).toBe(real);
  });

  it('gives each tenant an uploader key and a known_hosts entry pinning the drop host key', async () => {
    const app = appConfigSchema.parse({ dataDir: dir, drop: { port: 2999 } });
    const [access] = await ensureUploaderAccess(app, [defaultTenant('acme')]);
    const keysDir = path.join(dir, 'drop-keys');
    expect(access!.command).toBe(`sftp -P 2999 -i ${path.join(keysDir, 'users', 'acme')} -o UserKnownHostsFile=${path.join(keysDir, 'known_hosts')} acme@127.0.0.1`);
    expect(access!.remoteInbox).toBe('/inbox');
    expect(readFileSync(path.join(keysDir, 'users', 'acme'), 'utf8')).toMatch(/BEGIN OPENSSH PRIVATE KEY/);
    const known = readFileSync(path.join(keysDir, 'known_hosts'), 'utf8').trim();
    expect(known).toMatch(/^\[127\.0\.0\.1\]:2999 ssh-ed25519 \S+$/);
    // known_hosts pins the very key the drop serves: the same type and key blob as host_ed25519.pub
    const [hostType, hostBlob] = readFileSync(path.join(keysDir, 'host_ed25519.pub'), 'utf8').trim().split(' ');
    expect(known.split(' ').slice(1)).toEqual([hostType, hostBlob]);
    // OpenSSH's SHA256 fingerprint: unpadded base64 of the SHA-256 of the key blob
    expect(access!.hostKeySha256).toBe(`SHA256:${createHash('sha256').update(Buffer.from(hostBlob!, 'base64')).digest('base64').replace(/=+$/, '')}`);
    // A second call keeps the same key.
    const before = readFileSync(path.join(keysDir, 'users', 'acme.pub'), 'utf8');
    await ensureUploaderAccess(app, [defaultTenant('acme')]);
    expect(readFileSync(path.join(keysDir, 'users', 'acme.pub'), 'utf8')).toBe(before);
  });

  it('places the sample in the example inbox on the first start only', async () => {
    const app = appConfigSchema.parse({ dataDir: dir });
    const example = defaultTenant('example');
    const first = await seedSampleFile(app, example);
    const inbox = path.join(dir, 'drop', 'example', 'inbox');
    expect(first.seeded).toBe(path.join(inbox, SAMPLE_FILE_NAME));
    expect(await readdir(inbox)).toEqual([SAMPLE_FILE_NAME]);
    await unlink(path.join(inbox, SAMPLE_FILE_NAME)); // processed and moved away
    const second = await seedSampleFile(app, example);
    expect(second.seeded).toBeNull();
    expect(second.reason).toMatch(/already placed/);
    expect(existsSync(path.join(inbox, SAMPLE_FILE_NAME))).toBe(false);
  });
});
