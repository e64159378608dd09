import { describe, expect, it } from 'vitest';
import { SIGN_IN_FAILED } from '../src/web/login.js';
import { CSRF_COOKIE, safeNext, SESSION_COOKIE } from '../src/web/security.js';
import { client, csrfOf, PASSWORD, signIn, useConsole, USERS } from './web.support.js';

describe('console security', () => {
  const t = useConsole({ loginAttemptsPerMinute: 3 });

  it('redirects every page to the sign-in page without a session; /healthz, /metrics and /login stay open', async () => {
    for (const url of ['/', '/tenants', '/runs', '/runs?tenant=acme&status=held&page=2', '/runs/1', '/runs/1/files/invites', '/preview', '/audit']) {
      const response = await t.app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBeGreaterThanOrEqual(300);
      expect(response.statusCode, url).toBeLessThan(400);
      const expected = url === '/' || url === '/tenants' ? '/login' : `/login?next=${encodeURIComponent(url)}`;
      expect(response.headers.location, url).toBe(expected);
    }
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/login' })).statusCode).toBe(200);
  });

  it('signing in from an alert link returns to that run; a foreign "next" is ignored', async () => {
    const c = client(t.app);
    const first = await c.get('/runs/42?errors_page=2');
    expect(first.headers.location).toBe('/login?next=%2Fruns%2F42%3Ferrors_page%3D2');
    const login = await c.get(first.headers.location as string);
    expect(login.body).toContain('<input type="hidden" name="next" value="/runs/42?errors_page=2">');
    const signedIn = await c.post('/login', { username: USERS.viewer, password: PASSWORD, next: '/runs/42?errors_page=2' }, { tokenFrom: '/login' });
    expect(signedIn.headers.location).toBe('/runs/42?errors_page=2');
    // (two more sign-ins: the limit of this suite is 3 a minute)
    for (const next of ['//evil.example/x', 'https://evil.example/']) {
      const other = client(t.app);
      const response = await other.post('/login', { username: USERS.viewer, password: PASSWORD, next }, { tokenFrom: '/login' });
      expect(response.headers.location, next).toBe('/tenants');
    }
    for (const next of ['/login?next=/x', 'javascript:alert(1)', '/\\evil.example', '/runs/1"><b>', 42]) expect(safeNext(next), String(next)).toBeNull();
    expect(safeNext('/runs/7?updates_page=3')).toBe('/runs/7?updates_page=3');
  });

  it('a wrong password or an unknown name gets one generic message; the fourth attempt within a minute gets 429', async () => {
    const c = client(t.app);
    const wrong = await c.post('/login', { username: USERS.csm, password: 'nope' }, { tokenFrom: '/login' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain(SIGN_IN_FAILED);
    const unknown = await c.post('/login', { username: 'nobody', password: PASSWORD }, { tokenFrom: '/login' });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.body).toContain(SIGN_IN_FAILED);
    expect(unknown.body).not.toContain('nobody');
    expect((await c.post('/login', { username: USERS.csm, password: 'nope' }, { tokenFrom: '/login' })).statusCode).toBe(401);
    const limited = await c.post('/login', { username: USERS.csm, password: PASSWORD }, { tokenFrom: '/login' });
    expect(limited.statusCode).toBe(429);
    const audit = await t.db.pool.query<{ action: string; actor: string | null }>('select action, actor from console_audit order by id');
    expect(audit.rows).toEqual([
      { action: 'sign-in-failed', actor: USERS.csm },
      { action: 'sign-in-failed', actor: null },
      { action: 'sign-in-failed', actor: USERS.csm },
    ]);
  });

  it('answers 403 to a POST without or with a wrong CSRF token, signed in or not', async () => {
    const anonymous = client(t.app);
    const noToken = await anonymous.post('/login', { username: USERS.csm, password: PASSWORD }, { token: null });
    expect(noToken.statusCode).toBe(403);
    const operator = await signIn(t.app, 'operator');
    for (const url of ['/logout', '/runs/1/approve', '/runs/1/reject', '/runs/1/applied']) {
      expect((await operator.post(url, { confirm: 'yes' }, { token: null })).statusCode, url).toBe(403);
      expect((await operator.post(url, { confirm: 'yes' }, { token: 'forged-token' })).statusCode, url).toBe(403);
    }
    // a token of another session is not valid in this one
    const other = await signIn(t.app, 'operator');
    const foreignToken = csrfOf((await other.get('/tenants')).body);
    expect((await operator.post('/logout', {}, { token: foreignToken })).statusCode).toBe(403);
    expect((await operator.post('/logout', {})).statusCode).toBe(303);
    expect((await operator.get('/tenants')).headers.location).toBe('/login');
  });

  it('sets the session cookie HttpOnly and SameSite=Strict, and strict security headers', async () => {
    const c = client(t.app);
    const response = await c.get('/login');
    const cookies = (r: typeof response) => ([] as string[]).concat(r.headers['set-cookie'] ?? []);
    // the sign-in page sets the CSRF secret's cookie (signed) and no session: nothing is stored for a visit
    const csrf = cookies(response).find((c) => c.startsWith(`${CSRF_COOKIE}=`));
    expect(csrf).toMatch(/^hris_csrf=[^;.]+\.[^;]+;/);
    expect(cookies(response).some((c) => c.startsWith(`${SESSION_COOKIE}=`))).toBe(false);
    const signedIn = await c.post('/login', { username: USERS.viewer, password: PASSWORD }, { tokenFrom: '/login' });
    const cookie = cookies(signedIn).find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    for (const set of [csrf, cookie]) {
      expect(set).toMatch(/; HttpOnly/i);
      expect(set).toMatch(/; SameSite=Strict/i);
      expect(set).not.toMatch(/; Secure/i);
    }
    const csp = String(response.headers['content-security-policy']);
    expect(csp).toContain("script-src 'none'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(response.headers['referrer-policy']).toBe('no-referrer');
    expect(response.body).not.toMatch(/<script|style=/i);
  });

  it('an anonymous visit stores no session; a sign-in stores one, a sign-out removes it', async () => {
    const sessions = async () => Number((await t.db.pool.query('select count(*) from console_sessions')).rows[0].count);
    const before = await sessions();
    for (let i = 0; i < 5; i++) expect((await client(t.app).get('/login')).statusCode).toBe(200);
    expect(await client(t.app).get('/runs/1')).toMatchObject({ statusCode: 303 });
    expect(await sessions()).toBe(before);
    const viewer = await signIn(t.app, 'viewer');
    expect(await sessions()).toBe(before + 1);
    expect((await viewer.post('/logout', {})).statusCode).toBe(303);
    expect(await sessions()).toBe(before);
  });

  it('a removed user is signed out at once', async () => {
    const csm = await signIn(t.app, 'csm');
    expect((await csm.get('/tenants')).statusCode).toBe(200);
    await t.db.pool.query('delete from console_users where name = $1', [USERS.csm]);
    expect((await csm.get('/tenants')).headers.location).toBe('/login');
  });
});

describe('console behind HTTPS', () => {
  const t = useConsole({ secureCookie: true, proxyAddresses: ['127.0.0.1'] });

  it('marks the cookies Secure (the proxy says https)', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/login', headers: { 'x-forwarded-proto': 'https' } });
    const cookie = ([] as string[]).concat(response.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${CSRF_COOKIE}=`));
    expect(cookie).toMatch(/; Secure/i);
    expect(cookie).toMatch(/; SameSite=Strict/i);
    const signedIn = await t.app.inject({
      method: 'POST',
      url: '/login',
      headers: { 'x-forwarded-proto': 'https', 'content-type': 'application/x-www-form-urlencoded', cookie: cookie!.split(';')[0]! },
      payload: new URLSearchParams({ username: USERS.viewer, password: PASSWORD, _csrf: csrfOf(response.body) }).toString(),
    });
    expect(signedIn.statusCode).toBe(303);
    const session = ([] as string[]).concat(signedIn.headers['set-cookie'] ?? []).find((s) => s.startsWith(`${SESSION_COOKIE}=`));
    expect(session).toMatch(/; Secure/i);
    expect(response.headers['strict-transport-security']).toContain('max-age=31536000');
  });
});

describe('CSRF tokens of a page', () => {
  const t = useConsole();

  it('every token on a page works with the cookie it set, also when the browser had no CSRF cookie (a restart keeps the session only)', async () => {
    const c = await signIn(t.app, 'csm');
    c.jar.drop(CSRF_COOKIE);
    const page = await c.get('/preview');
    expect(page.statusCode).toBe(200);
    expect(page.cookies.filter((cookie) => cookie.name === CSRF_COOKIE)).toHaveLength(1);
    const tokens = [...page.body.matchAll(/_csrf=([^"&]+)"|name="_csrf" value="([^"]+)"/g)].map((m) => m[1] ?? m[2]!);
    expect(tokens.length).toBeGreaterThanOrEqual(2); // the upload's action URL and the sign-out form
    expect(new Set(tokens).size).toBe(1);
    // the first of them (the upload's) is accepted with the cookie the page set
    const out = await c.post('/logout', {}, { token: decodeURIComponent(tokens[0]!) });
    expect(out.statusCode).toBe(303);
  });
});

describe('console behind an authenticating proxy', () => {
  const t = useConsole({ auth: 'proxy', proxyHeader: 'X-Auth-Request-User', proxyAddresses: ['10.0.0.5'] });

  it('takes the user from the header on requests from the proxy address only', async () => {
    const fromProxy = await t.app.inject({ method: 'GET', url: '/tenants', remoteAddress: '10.0.0.5', headers: { 'x-auth-request-user': USERS.operator } });
    expect(fromProxy.statusCode).toBe(200);
    expect(fromProxy.body).toContain(`${USERS.operator} (operator)`);
    expect(fromProxy.body).not.toContain('Sign out');
    const signIns = await t.db.pool.query(`select actor, detail from console_audit where action = 'sign-in'`);
    expect(signIns.rows).toEqual([{ actor: USERS.operator, detail: 'via the proxy, role operator' }]);
    const stranger = await t.app.inject({ method: 'GET', url: '/tenants', remoteAddress: '10.0.0.6', headers: { 'x-auth-request-user': USERS.operator } });
    expect(stranger.statusCode).toBe(303);
    expect(stranger.headers.location).toBe('/login');
    // unknown to the users table: the default role (viewer)
    const newcomer = await t.app.inject({ method: 'GET', url: '/audit', remoteAddress: '10.0.0.5', headers: { 'x-auth-request-user': 'newcomer' } });
    expect(newcomer.statusCode).toBe(403);
    // the built-in sign-in is off: the page points to the proxy and has no form
    const login = await t.app.inject({ method: 'GET', url: '/login' });
    expect(login.body).toContain('sign-in proxy');
    expect(login.body).not.toContain('name="password"');
  });
});
