import { spawn } from 'node:child_process';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CLI, cliSandbox, ensureBuilt, type CliSandbox } from './support/cli.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { freePort } from './runtime.support.js';
import { csrfOf } from './web.support.js';

/** Runs the CLI with INPUT on its stdin (a pipe: not a terminal). */
function runWithStdin(sandbox: CliSandbox, args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: sandbox.dir, env: sandbox.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** Signs in over real HTTP; the status of the POST /login answer and where it leads. */
async function signInOverHttp(base: string, username: string, password: string): Promise<{ status: number; location: string | null; cookie: string }> {
  const jar = new Map<string, string>();
  const keep = (response: Response) => {
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const [name, value] = pair!.split('=');
      jar.set(name!, value!);
    }
  };
  const cookie = () => [...jar].map(([n, v]) => `${n}=${v}`).join('; ');
  const login = await fetch(`${base}/login`);
  keep(login);
  const token = csrfOf(await login.text());
  const response = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookie() },
    body: new URLSearchParams({ username, password, _csrf: token }).toString(),
  });
  keep(response);
  return { status: response.status, location: response.headers.get('location'), cookie: cookie() };
}

/** `serve` until its banner; returns the output so far and a stop function. */
async function serve(sandbox: CliSandbox, port: number): Promise<{ stdout: () => string; stop: () => Promise<number | null>; signal: (name: NodeJS.Signals) => void; running: () => boolean }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', String(port)], { cwd: sandbox.dir, env: sandbox.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!stdout.includes('hris-ingest console:')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not start:\n${stdout}\n${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await new Promise((resolve) => setTimeout(resolve, 200)); // the rest of the banner
  return {
    stdout: () => stdout,
    signal: (name) => child.kill(name),
    running: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

describe('hris-ingest users and serve', () => {
  let db: TestDatabase;
  let sandbox: CliSandbox;
  beforeAll(() => ensureBuilt());
  beforeEach(async () => {
    db = await freshDatabase();
    sandbox = await cliSandbox({ databaseUrl: db.url, tenants: [{ id: 'acme', name: 'Acme' }] });
  });
  afterEach(async () => {
    await sandbox.dispose();
    await db.dispose();
  });

  it('adds a user with the password from stdin, lists, serves the console to them, removes them', async () => {
    const added = await runWithStdin(sandbox, ['users', 'add', 'ana', '--role', 'csm'], 'a long enough password\n');
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).toBe('added ana (csm)\n');
    const stored = await db.pool.query<{ password_hash: string }>(`select password_hash from console_users where name = 'ana'`);
    expect(stored.rows[0]!.password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(stored.rows[0]!.password_hash).not.toContain('a long enough password');

    const listed = await sandbox.run('users', 'list', '--json');
    expect(listed.code).toBe(0);
    expect(listed.json().users).toEqual([{ name: 'ana', role: 'csm', createdAt: expect.stringMatching(/^\d{4}-/) }]);

    const port = await freePort();
    const server = await serve(sandbox, port);
    try {
      expect(server.stdout()).toContain(`http://127.0.0.1:${port}/tenants`);
      expect(server.stdout()).not.toContain('first operator'); // a user exists
      const signedIn = await signInOverHttp(`http://127.0.0.1:${port}`, 'ana', 'a long enough password');
      expect(signedIn).toMatchObject({ status: 303, location: '/tenants' });
      expect((await signInOverHttp(`http://127.0.0.1:${port}`, 'ana', 'wrong')).status).toBe(401);
      const tenants = () => fetch(`http://127.0.0.1:${port}/tenants`, { redirect: 'manual', headers: { cookie: signedIn.cookie } });
      expect((await tenants()).status).toBe(200);
      // a new password (the old one may be known to someone else) ends the sessions signed in with the old one
      const replaced = await runWithStdin(sandbox, ['users', 'add', 'ana', '--role', 'csm'], 'another long password\n');
      expect(replaced.stdout).toBe('updated ana (csm)\n');
      const after = await tenants();
      expect(after.status).toBe(303);
      expect(after.headers.get('location')).toMatch(/^\/login/);
    } finally {
      expect(await server.stop()).toBe(0);
    }

    const removed = await sandbox.run('users', 'remove', 'ana');
    expect(removed.code).toBe(0);
    expect((await sandbox.run('users', 'list')).stdout).toBe('no users\n');
    const again = await sandbox.run('users', 'remove', 'ana');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no user "ana"');
    const audit = await db.pool.query<{ action: string; detail: string }>(`select action, detail from console_audit where action like 'user-%' order by id`);
    expect(audit.rows).toEqual([
      { action: 'user-add', detail: 'ana (csm)' },
      { action: 'user-add', detail: 'ana (csm), role and password replaced' },
      { action: 'user-remove', detail: 'ana' },
    ]);
  });

  it('serve re-reads tenants/ on SIGHUP (it used to end the process) and shows a tenant added meanwhile', async () => {
    await runWithStdin(sandbox, ['users', 'add', 'ana', '--role', 'csm'], 'a long enough password\n');
    const port = await freePort();
    const server = await serve(sandbox, port);
    try {
      await sandbox.writeTenant({ id: 'beta', name: 'Beta Added Later' });
      server.signal('SIGHUP');
      const signedIn = await signInOverHttp(`http://127.0.0.1:${port}`, 'ana', 'a long enough password');
      let page = '';
      for (let i = 0; i < 50 && !page.includes('Beta Added Later'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        page = await (await fetch(`http://127.0.0.1:${port}/tenants`, { headers: { cookie: signedIn.cookie } })).text();
      }
      expect(page).toContain('Beta Added Later');
      expect(server.running()).toBe(true);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('refuses an unknown role and a short password (exit 1, nothing stored)', async () => {
    const role = await runWithStdin(sandbox, ['users', 'add', 'bob', '--role', 'admin'], 'a long enough password\n');
    expect(role.code).toBe(1);
    expect(role.stderr).toContain('unknown role "admin": use viewer, csm, operator');
    const short = await runWithStdin(sandbox, ['users', 'add', 'bob', '--role', 'viewer'], 'short\n');
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('at least 12 characters');
    expect((await db.pool.query('select count(*)::int as n from console_users')).rows[0].n).toBe(0);
  });

  it('serve on an empty users table creates the first operator and prints its one-time password once', async () => {
    const port = await freePort();
    const first = await serve(sandbox, port);
    let password: string;
    try {
      const match = /first operator created\. Sign in at (\S+)\/login as "admin" with the one-time password:\n {4}(\S+)\n/.exec(first.stdout());
      expect(match, first.stdout()).not.toBeNull();
      password = match![2]!;
      expect(password.length).toBeGreaterThanOrEqual(20);
      expect(await signInOverHttp(`http://127.0.0.1:${port}`, 'admin', password)).toMatchObject({ status: 303, location: '/tenants' });
    } finally {
      await first.stop();
    }
    const second = await serve(sandbox, port);
    try {
      expect(second.stdout()).not.toContain('first operator');
    } finally {
      await second.stop();
    }
    expect((await db.pool.query(`select role from console_users`)).rows).toEqual([{ role: 'operator' }]);
  });
});

