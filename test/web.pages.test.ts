import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { approveRun, ingestFile, purgeOldRuns, renderRunFiles } from '../src/pipeline.js';
import { forgetExpiredPreviews } from '../src/store/console-previews.js';
import { csvOf, fileOf, person, range } from './pipeline.support.js';
import { encryptWithOpenpgp, tenantKeyFiles } from './support/gpg.js';
import { anotherReplica, client, signIn, useConsole, USERS } from './web.support.js';

const FIRST = '10KC Membership File - Acme - 01.13.2023.csv';
const SECOND = '10KC Membership File - Acme - 02.13.2023.csv';

/** A multipart body with the tenant field and one file. */
function multipart(tenant: string, fileName: string, content: string | Buffer): { payload: Buffer; contentType: string } {
  const boundary = '----console-test-boundary';
  const payload = Buffer.concat([
    Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="tenant"\r\n\r\n${tenant}\r\n`),
    Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${fileName}"\r\ncontent-type: text/csv\r\n\r\n`),
    Buffer.isBuffer(content) ? content : Buffer.from(content),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { payload, contentType: `multipart/form-data; boundary=${boundary}` };
}

describe('console pages', () => {
  const t = useConsole({ previewMaxBytes: 4096 });
  const acme = () => t.tenants.get('acme')!;

  async function accepted(people = range(1, 40), name = FIRST) {
    return ingestFile({ db: t.db }, acme(), fileOf(name, csvOf(people)), { outDir: t.outDir });
  }

  it('shows the late-file watch per tenant: not watched, due, or late by how long', async () => {
    t.tenants.set('acme', { ...acme(), expect: { every: '7 days', graceHours: 48, remind: true } });
    t.tenants.set('beta', { ...t.tenants.get('beta')!, expect: { every: '1 month', graceHours: 48, remind: true } });
    const run = await accepted();
    await t.db.pool.query(`update runs set created_at = now() - interval '12 days' where id = $1`, [run.runId]);
    const csm = await signIn(t.app, 'csm');
    const body = (await csm.get('/tenants')).body;
    expect(body).toContain('next file (expect:)');
    // acme: due 7 days after its file, i.e. 5 days ago; the grace (48 h) has passed
    expect(body).toMatch(/late by 5 days<\/strong> \(due [^)]*, 7 days\)/);
    // beta: no file yet, watched from now, due in a month
    expect(body).toMatch(/due [^<]* <span class="muted">\(1 month\)<\/span>/);
  });

  it('lists tenants and runs, escapes customer text, filters and pages the runs', async () => {
    await accepted(range(1, 40), 'Acme <b>bold</b> 01.13.2023.csv');
    const csm = await signIn(t.app, 'csm');
    const tenants = await csm.get('/tenants');
    expect(tenants.statusCode).toBe(200);
    expect(tenants.body).toContain('Acme &lt;b&gt;bold&lt;/b&gt;');
    expect(tenants.body).not.toContain('<b>bold');
    expect(tenants.body).toMatch(/<td class="n">40<\/td>/); // members on the platform
    const runs = await csm.get('/runs?tenant=acme&status=accepted');
    expect(runs.body).toContain('href="/runs/1"');
    expect((await csm.get('/runs?tenant=beta')).body).toContain('No runs match these filters');
    // 60 more runs of beta: page 1 shows 50 and links to page 2
    await t.db.pool.query(`insert into tenants (id, name) values ('beta', 'Beta') on conflict do nothing`);
    await t.db.pool.query(`insert into runs (tenant_id, file_name, sha256, status) select 'beta', 'b' || g || '.csv', 'x' || g, 'rejected' from generate_series(1, 60) g`);
    const page1 = await csm.get('/runs?tenant=beta');
    expect(page1.body.match(/<tr><td class="n"><a href="\/runs\//g)).toHaveLength(50);
    expect(page1.body).toContain('href="/runs?tenant=beta&amp;page=2"');
    const page2 = await csm.get('/runs?tenant=beta&page=2');
    expect(page2.body.match(/<tr><td class="n"><a href="\/runs\//g)).toHaveLength(10);
  });

  it('clips a long last file name on the tenants page as the runs list does', async () => {
    const name = `${'n'.repeat(300)} - 01.13.2023.csv`;
    await accepted(range(1, 5), name);
    const csm = await signIn(t.app, 'csm');
    for (const url of ['/tenants', '/runs']) {
      const body = (await csm.get(url)).body;
      expect(body, url).toContain(`>${'n'.repeat(79)}…<`);
      expect(body, url).not.toContain('n'.repeat(80));
    }
  });

  it('answers 404 to an unknown, malformed or foreign run id', async () => {
    await t.db.pool.query(`insert into tenants (id, name) values ('foreign', 'Not configured here')`);
    const foreign = await t.db.pool.query<{ id: number }>(`insert into runs (tenant_id, file_name, sha256, status) values ('foreign', 'f.csv', 'f', 'accepted') returning id::int as id`);
    const operator = await signIn(t.app, 'operator');
    for (const url of ['/runs/999', '/runs/abc', `/runs/${foreign.rows[0]!.id}`, `/runs/${foreign.rows[0]!.id}/files/invites`, '/runs/999/files/invites', '/runs/1/files/passwords']) {
      expect((await operator.get(url)).statusCode, url).toBe(404);
    }
    expect((await operator.post(`/runs/${foreign.rows[0]!.id}/approve`, { confirm: 'yes', reason: 'x' })).statusCode).toBe(404);
    expect((await operator.get('/runs')).body).not.toContain('f.csv');
  });

  it('shows counts and validation errors paged, cut, and bounded for 100,000 errors; a viewer sees no values', async () => {
    const run = await accepted();
    const runId = run.runId!;
    await t.db.pool.query(
      `insert into run_errors (run_id, seq, line, column_name, value, message)
       select $1, g, g + 1, 'Email Address', case when g = 1 then repeat('v', 5000) else 'bad' || g || '@x' end, 'not an email address: "bad' || g || '@x"'
       from generate_series(1, 100000) g`,
      [runId],
    );
    await t.db.pool.query(`update runs set error_count = 100000, warnings = '["unknown column \\"Jane Doe\\" ignored"]' where id = $1`, [runId]);
    const csm = await signIn(t.app, 'csm');
    const page1 = await csm.get(`/runs/${runId}`);
    expect(page1.statusCode).toBe(200);
    expect(page1.body).toContain('Validation errors (100,000)');
    expect(page1.body.length).toBeLessThan(100_000);
    expect(page1.body).toContain(`${'v'.repeat(119)}…`);
    expect(page1.body).not.toContain('v'.repeat(121));
    expect(page1.body).toContain(`href="/runs/${runId}?errors_page=2#errors"`);
    const last = await csm.get(`/runs/${runId}?errors_page=2000`);
    expect(last.body).toContain('bad100000@x');
    expect(last.body).not.toContain('rel="next"');
    const viewer = await signIn(t.app, 'viewer');
    const masked = await viewer.get(`/runs/${runId}?errors_page=2000`);
    expect(masked.body).not.toContain('bad100000@x');
    expect(masked.body).toContain('[value]');
    expect(masked.body).not.toContain('Jane Doe');
    expect(masked.body).toContain('unknown column &quot;…&quot; ignored');
    expect(page1.body).toContain('unknown column &quot;Jane Doe&quot; ignored');
  });

  it('a viewer sees no member data from a file without its header row: its reasons and file-level errors are masked as in Slack', async () => {
    // The first row is taken for the header: the reason and the error quote its values.
    const run = await ingestFile({ db: t.db }, acme(), fileOf(FIRST, 'Ana,Smithson,ana.smithson@example.com,E1,active\nBo,Lind,bo@example.com,E2,active\n'));
    expect(run.status).toBe('rejected');
    // A file-level message the page loads cut (1,000 characters) inside a quote: the open quote is masked to the end.
    const cutInQuote = `missing required column email ("Email Address"); the header row has: "${'Lindqvist '.repeat(200)}"`;
    await t.db.pool.query(`insert into run_errors (run_id, seq, line, column_name, value, message) values ($1, 1000, 1, 'email', '', $2)`, [run.runId, cutInQuote]);
    await t.db.pool.query('update runs set error_count = error_count + 1 where id = $1', [run.runId]);
    const csm = (await (await signIn(t.app, 'csm')).get(`/runs/${run.runId}`)).body;
    expect(csm).toContain('&quot;Smithson&quot;');
    expect(csm).toContain('Lindqvist');
    const viewer = (await (await signIn(t.app, 'viewer')).get(`/runs/${run.runId}`)).body;
    for (const data of ['Smithson', 'ana.smithson', 'Lindqvist', '&quot;Ana&quot;']) expect(viewer, data).not.toContain(data);
    // The reason (and the error) still say what is wrong, the spec's display names kept.
    expect(viewer).toMatch(/<li>the file could not be read: missing required columns first_name \(&quot;First Name&quot;\).*the header row has: &quot;…&quot;, &quot;…&quot;/);
    expect(viewer).toContain('missing required column email (&quot;Email Address&quot;); the header row has: &quot;…&quot;');
  });

  it('lists at most 30 changed fields of an update and 50 reasons and warnings, then how many more, for every role', async () => {
    await accepted();
    const second = await accepted([...range(1, 39), person(40, { city: 'Lyon' })], SECOND);
    const fields = Array.from({ length: 40 }, (_, i) => `segment_${i + 1}`);
    await t.db.pool.query(`update run_changes set changed_fields = $2 where run_id = $1 and kind = 'update'`, [second.runId, fields]);
    const notes = (what: string) => JSON.stringify(Array.from({ length: 60 }, (_, i) => `${what} ${i + 1}.`));
    await t.db.pool.query('update runs set reasons = $2, warnings = $3 where id = $1', [second.runId, notes('reason'), notes('warning')]);
    for (const role of ['csm', 'viewer'] as const) {
      const body = (await (await signIn(t.app, role)).get(`/runs/${second.runId}`)).body;
      expect(body, role).toContain('segment_30');
      expect(body, role).not.toContain('segment_31');
      expect(body, role).toContain('... and 10 more fields');
      for (const what of ['reason', 'warning']) {
        expect(body, role).toContain(`<li>${what} 50.</li><li>... and 10 more</li></ul>`);
        expect(body, role).not.toContain(`${what} 51.`);
      }
    }
  });

  it('shows each update as before -> after, paged', async () => {
    await accepted();
    const second = await accepted([...range(1, 39), person(40, { city: 'Lyon <script>' })], SECOND);
    expect(second.counts.updates).toBe(1);
    const csm = await signIn(t.app, 'csm');
    const body = (await csm.get(`/runs/${second.runId}`)).body;
    expect(body).toContain('Profile updates (1)');
    expect(body).toMatch(/<strong>city<\/strong>: <span class="value">Paris<\/span><span class="arrow">→<\/span><span class="value">Lyon &lt;script&gt;<\/span>/);
    const viewerBody = (await (await signIn(t.app, 'viewer')).get(`/runs/${second.runId}`)).body;
    expect(viewerBody).not.toContain('Paris');
    expect(viewerBody).not.toContain('m40@example.com');
    expect(viewerBody).toContain('<td>city</td>');
  });

  it('downloads each file streamed under the alert file name, with the bytes of the stored run; a viewer gets 403', async () => {
    const run = await accepted();
    const csm = await signIn(t.app, 'csm');
    const stored = await renderRunFiles(t.db, run.runId!, path.join(t.tempDir, 'stored'));
    for (const kind of ['invites', 'updates', 'deletions'] as const) {
      const response = await csm.get(`/runs/${run.runId}/files/${kind}`);
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toContain('text/csv');
      expect(response.headers['content-disposition']).toContain(`filename="${path.basename(stored[kind]!)}"`);
      expect(response.rawPayload.equals(await readFile(stored[kind]!))).toBe(true);
    }
    expect((await csm.get(`/runs/${run.runId}/files/errors`)).statusCode).toBe(404); // no errors in this run
    expect(await readdir(path.join(t.tempDir, 'tmp'))).toEqual([]);
    const viewer = await signIn(t.app, 'viewer');
    expect((await viewer.get(`/runs/${run.runId}/files/invites`)).statusCode).toBe(403);
    const audit = await t.db.pool.query<{ detail: string }>(`select detail from console_audit where action = 'download' order by id`);
    expect(audit.rows.map((r) => r.detail)).toEqual([`run ${run.runId} (acme) invites`, `run ${run.runId} (acme) updates`, `run ${run.runId} (acme) deletions`]);
  });

  it('approves a held run after the confirmation step, with the pipeline: status, outbox alert, audit; a viewer or csm gets 403', async () => {
    await accepted(range(1, 100));
    const held = await accepted(range(1, 50), SECOND);
    expect(held.status).toBe('held');
    const id = held.runId!;
    for (const role of ['viewer', 'csm'] as const) {
      expect((await (await signIn(t.app, role)).post(`/runs/${id}/approve`, { confirm: 'yes', reason: 'ok' })).statusCode).toBe(403);
    }
    const operator = await signIn(t.app, 'operator');
    const page = (await operator.get(`/runs/${id}`)).body;
    expect(page).toContain('Why it was held');
    expect(page).toContain(`href="/runs/${id}?decide=approve"`);
    const unconfirmed = await operator.post(`/runs/${id}/approve`, { reason: 'checked' });
    expect(unconfirmed.headers.location).toBe(`/runs/${id}?decide=approve`);
    expect((await t.db.pool.query('select status from runs where id = $1', [id])).rows[0].status).toBe('held');
    expect((await operator.get(`/runs/${id}?decide=approve`)).body).toContain(`action="/runs/${id}/approve"`);
    const done = await operator.post(`/runs/${id}/approve`, { confirm: 'yes', reason: 'customer confirmed the leavers' }, { tokenFrom: `/runs/${id}?decide=approve` });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe(`/runs/${id}?done=approved`);
    const row = (await t.db.pool.query('select status, decided_by from runs where id = $1', [id])).rows[0];
    expect(row).toEqual({ status: 'accepted', decided_by: 'olga' });
    expect((await t.db.pool.query(`select count(*)::int as n from outbox where run_id = $1 and kind = 'run'`, [id])).rows[0].n).toBe(2);
    expect((await t.db.pool.query(`select detail from console_audit where action = 'approve'`)).rows[0].detail).toContain('customer confirmed the leavers');
    // the files were written to the outputs folder, as `runs approve --out`
    expect((await readdir(t.outDir)).some((f) => f.includes('02-13') || f.includes('profile deletions'))).toBe(true);
  });

  it('refuses to approve or reject without a reason: the confirmation step again, with the error; nothing changes', async () => {
    await accepted(range(1, 100));
    const held = await accepted(range(1, 50), SECOND);
    expect(held.status).toBe('held');
    const id = held.runId!;
    const operator = await signIn(t.app, 'operator');
    for (const verb of ['approve', 'reject'] as const) {
      for (const reason of [undefined, '', ' \n\t ']) {
        const refused = await operator.post(`/runs/${id}/${verb}`, { confirm: 'yes', ...(reason === undefined ? {} : { reason }) });
        expect(refused.statusCode, `${verb} ${JSON.stringify(reason)}`).toBe(400);
        expect(refused.body).toContain(`Not done: give a reason to ${verb} run ${id}.`);
        expect(refused.body).toContain(`action="/runs/${id}/${verb}"`);
      }
    }
    expect((await t.db.pool.query('select status, decided_by from runs where id = $1', [id])).rows[0]).toEqual({ status: 'held', decided_by: null });
    expect((await t.db.pool.query(`select count(*)::int as n from console_audit where action in ('approve', 'reject')`)).rows[0].n).toBe(0);
    expect((await t.db.pool.query(`select count(*)::int as n from outbox where run_id = $1`, [id])).rows[0].n).toBe(1);
  });

  it('a stale held file superseded by a later accepted one: "superseded by", no decision form, 409 on approve and reject, not waiting on the tenants page', async () => {
    await accepted(range(1, 40), FIRST);
    await accepted(range(1, 41), '10KC Membership File - Acme - 03.13.2023.csv');
    // dated before the last accepted file: held
    const stale = await accepted(range(1, 40), SECOND);
    expect(stale.status).toBe('held');
    const operator = await signIn(t.app, 'operator');
    const waiting = /<td class="n"><a href="\/runs\?tenant=acme&amp;status=held">1<\/a><\/td>/;
    expect((await operator.get('/tenants')).body).toMatch(waiting);
    const newer = await accepted(range(1, 42), '10KC Membership File - Acme - 04.13.2023.csv');
    expect(newer.status).toBe('accepted');
    const id = stale.runId!;
    const superseded = `superseded by <a href="/runs/${newer.runId}">run ${newer.runId}</a>`;
    for (const url of [`/runs/${id}`, `/runs/${id}?decide=approve`, `/runs/${id}?decide=reject`]) {
      const page = (await operator.get(url)).body;
      expect(page, url).toContain(superseded);
      expect(page, url).toContain('upload it again');
      expect(page, url).not.toContain('?decide=');
      expect(page, url).not.toContain(`action="/runs/${id}/`);
    }
    expect((await operator.get('/runs?tenant=acme')).body).toContain(superseded);
    const tenants = (await operator.get('/tenants')).body;
    expect(tenants).not.toMatch(waiting);
    expect(tenants).toMatch(/<td class="n">0<\/td>\s*<td class="n">/); // waiting for a decision: 0
    for (const verb of ['approve', 'reject']) {
      const refused = await operator.post(`/runs/${id}/${verb}`, { confirm: 'yes', reason: 'x' });
      expect(refused.statusCode).toBe(409);
      expect(refused.body).toContain(`Not done: run ${id} cannot be ${verb === 'approve' ? 'approved' : 'rejected'}: it is superseded by run ${newer.runId}`);
      expect(refused.body).toContain(superseded);
    }
    expect((await t.db.pool.query('select status from runs where id = $1', [id])).rows[0].status).toBe('held');
  });

  it('shows how an OpenPGP file was encrypted: armoured or binary, our key id, the verified signer', async () => {
    const keys = await tenantKeyFiles(path.join(t.tempDir, 'keys'));
    process.env.HRIS_TEST_WEB_PGP = keys.passphrase;
    try {
      const pgpAcme = { ...acme(), pgp: { privateKeyFile: keys.privateKeyFile, passphraseEnv: 'HRIS_TEST_WEB_PGP', required: false } };
      const armored = await encryptWithOpenpgp(csvOf(range(1, 10)), keys.publicKey, { armor: true });
      const first = await ingestFile({ db: t.db }, pgpAcme, { name: `${FIRST}.asc`, open: () => Readable.from([armored]) });
      const binary = await encryptWithOpenpgp(csvOf(range(1, 11)), keys.publicKey);
      const second = await ingestFile({ db: t.db }, pgpAcme, { name: `${SECOND}.gpg`, open: () => Readable.from([binary]) });
      expect([first.status, second.status]).toEqual(['accepted', 'accepted']);
      const viewer = await signIn(t.app, 'viewer');
      const armoredPage = (await viewer.get(`/runs/${first.runId}`)).body;
      expect(armoredPage).toContain(`<dt>Encryption</dt><dd>OpenPGP, armoured, encrypted to our key ${keys.encryptionKeyId}; no signature checked</dd>`);
      expect((await viewer.get(`/runs/${second.runId}`)).body).toContain(`OpenPGP, binary, encrypted to our key ${keys.encryptionKeyId}`);
      expect(armoredPage).not.toContain('m1@example.com');
      await t.db.pool.query(`update runs set encryption = encryption || '{"signer": "ABCDEF0123456789"}' where id = $1`, [second.runId]);
      expect((await viewer.get(`/runs/${second.runId}`)).body).toContain('signature verified: key ABCDEF0123456789');
      expect((await viewer.get(`/runs/${(await accepted(range(1, 12), '10KC Membership File - Acme - 03.13.2023.csv')).runId}`)).body).not.toContain('Encryption');
    } finally {
      delete process.env.HRIS_TEST_WEB_PGP;
    }
  });

  it("a held run's files: only an operator gets them, named HELD; a csm gets 403; a superseded run offers none; the tenants page shows it superseded, not as the newer run", async () => {
    const first = await accepted(range(1, 100));
    const held = await accepted(range(1, 50), SECOND); // 50 deletions: held
    expect(held.status).toBe('held');
    const id = held.runId!;
    const csm = await signIn(t.app, 'csm');
    const operator = await signIn(t.app, 'operator');
    for (const kind of ['invites', 'updates', 'deletions'] as const) {
      const refused = await csm.get(`/runs/${id}/files/${kind}`);
      expect(refused.statusCode, kind).toBe(403);
      expect(refused.body).toContain('the files for the platform come with the approval');
    }
    const csmPage = (await csm.get(`/runs/${id}`)).body;
    expect(csmPage).not.toContain(`/runs/${id}/files/`);
    expect(csmPage).toContain('only the operator deciding the run can download them');
    expect((await operator.get(`/runs/${id}`)).body).toContain('profile deletions (held, for review)');
    const review = await operator.get(`/runs/${id}/files/deletions`);
    expect(review.statusCode).toBe(200);
    const stored = await renderRunFiles(t.db, id, path.join(t.tempDir, 'held'));
    const name = path.basename(stored.deletions!);
    expect(review.headers['content-disposition']).toContain(`filename="${name.replace(/\.csv$/, '')} - HELD run ${id}, not approved.csv"`);
    expect(review.rawPayload.equals(await readFile(stored.deletions!))).toBe(true);
    expect(review.body.trimEnd().split('\n')).toHaveLength(51);
    // a second held run, then the first approved: the second is superseded, and its files are nobody's
    const later = await accepted(range(1, 49), '10KC Membership File - Acme - 03.13.2023.csv');
    expect(later.status).toBe('held');
    await approveRun({ db: t.db }, t.tenants, id, 'olga');
    const gone = await operator.get(`/runs/${later.runId}/files/deletions`);
    expect(gone.statusCode).toBe(404);
    expect(gone.body).toContain('This run was superseded');
    const gonePage = (await operator.get(`/runs/${later.runId}`)).body;
    expect(gonePage).not.toContain(`/runs/${later.runId}/files/`);
    expect(gonePage).toContain('no file for the platform is offered');
    expect((await csm.get(`/runs/${id}/files/deletions`)).statusCode).toBe(200); // approved: the platform's files
    const tenants = (await operator.get('/tenants')).body;
    expect(tenants).toContain(`superseded by <a href="/runs/${id}">run ${id}</a>`);
    expect(tenants).toContain(`run <a href="/runs/${first.runId}">${first.runId}</a> was accepted but is not marked`);
    expect(tenants).toContain(`a newer run (<a href="/runs/${id}">${id}</a>) exists`);
  });

  it('warns on the tenants page while an older accepted run is not marked applied and a newer one exists; the mark clears it', async () => {
    const first = await accepted();
    const csm = await signIn(t.app, 'csm');
    expect((await csm.get('/tenants')).body).not.toContain('is not marked');
    await accepted(range(1, 39), SECOND);
    const warned = (await csm.get('/tenants')).body;
    expect(warned).toContain(`run <a href="/runs/${first.runId}">${first.runId}</a> was accepted but is not marked`);
    const viewer = await signIn(t.app, 'viewer');
    expect((await viewer.post(`/runs/${first.runId}/applied`, {})).statusCode).toBe(403);
    const marked = await csm.post(`/runs/${first.runId}/applied`, {});
    expect(marked.headers.location).toBe(`/runs/${first.runId}?done=applied`);
    expect((await csm.get(`/runs/${first.runId}`)).body).toMatch(/Applied to the platform by carl, \d{4}-/);
    expect((await csm.get('/tenants')).body).not.toContain('is not marked');
  });

  it('lists at most 20 runs not marked applied and 5 overtaken ones, then "... and N more"', async () => {
    const first = await accepted();
    // 24 more accepted runs with changes (rows as the engine records them; only their ids and counts matter here)
    await t.db.pool.query(
      `insert into runs (tenant_id, file_name, sha256, status, counts) select 'acme', 'r' || g || '.csv', 'sha' || g, 'accepted', '{"invites": 1}'::jsonb
       from generate_series(1, 24) g`,
    );
    const body = (await (await signIn(t.app, 'csm')).get('/tenants')).body;
    expect(body).toContain(`<a href="/runs/${first.runId}">${first.runId}</a>, `);
    expect(body.match(/<td class="n">(<a href="\/runs\/\d+">\d+<\/a>, )+\.\.\. and 5 more<\/td>/)?.[0].match(/<a /g)).toHaveLength(20);
    const warning = body.match(/<p class="notice warn" role="alert">Acme: runs .*? exists\./s)?.[0] ?? '';
    expect(warning.match(/<a href="\/runs\/\d+">\d+<\/a>, /g)).toHaveLength(5);
    expect(warning).toContain('... and 19 more were accepted but');
  });

  it('previews an uploaded sample against the tenant state, storing nothing; files downloadable by the same user', async () => {
    await accepted(range(1, 10));
    const runsBefore = (await t.db.pool.query('select count(*)::int as n from runs')).rows[0].n;
    const csm = await signIn(t.app, 'csm');
    const token = (await csm.get('/preview')).body.match(/action="\/preview\?_csrf=([^"]+)"/)![1]!;
    const { payload, contentType } = multipart('acme', SECOND, csvOf([...range(1, 9), person(11)]));
    const response = await t.app.inject({ method: 'POST', url: `/preview?_csrf=${token}`, payload, headers: { 'content-type': contentType, cookie: csm.jar.header() } });
    expect(response.statusCode).toBe(200);
    expect(response.body).toMatch(/<tr id="preview-counts"><td class="n">1<\/td><td class="n">0<\/td><td class="n">0<\/td><td class="n">0<\/td><td class="n">1<\/td>/);
    expect((await t.db.pool.query('select count(*)::int as n from runs')).rows[0].n).toBe(runsBefore);
    const link = response.body.match(/href="(\/preview\/[^/]+\/invites)"/)![1]!;
    const file = await csm.get(link);
    expect(file.statusCode).toBe(200);
    // marked as a preview: no preview passes for a file to upload (a held mass deletion's neither)
    expect(file.headers['content-disposition']).toContain('filename="acme 2023-02-13 potential invites - PREVIEW, not for upload.csv"');
    expect(file.body).toContain('m11@example.com');
    expect((await (await signIn(t.app, 'operator')).get(link)).statusCode).toBe(404); // another user
    // nothing of it on this replica's disk; another replica (same database) serves the same bytes
    expect(await readdir(path.join(t.tempDir, 'tmp'))).toEqual([]);
    const replica = await anotherReplica(t, { previewMaxBytes: 4096 });
    try {
      const there = await replica.inject({ method: 'GET', url: link, headers: { cookie: csm.jar.header() } });
      expect(there.statusCode).toBe(200);
      expect(there.rawPayload.equals(file.rawPayload)).toBe(true);
      // past its time: gone everywhere
      await t.db.pool.query(`update console_preview_files set expires_at = now() - interval '1 second'`);
      expect((await replica.inject({ method: 'GET', url: link, headers: { cookie: csm.jar.header() } })).statusCode).toBe(404);
      expect((await csm.get(link)).statusCode).toBe(404);
      // swept ten minutes after expiry (a download begun before it reads to its end), by retention too
      const rows = async () => (await t.db.pool.query('select count(*)::int as n from console_preview_files')).rows[0].n as number;
      expect(await forgetExpiredPreviews(t.db.pool)).toBe(0);
      expect(await rows()).toBeGreaterThan(0);
      await t.db.pool.query(`update console_preview_files set expires_at = now() - interval '11 minutes'`);
      await purgeOldRuns(t.db, 90);
      expect(await rows()).toBe(0);
    } finally {
      await replica.close();
    }
    // a viewer cannot preview; no token -> 403
    expect((await (await signIn(t.app, 'viewer')).get('/preview')).statusCode).toBe(403);
    const noToken = await t.app.inject({ method: 'POST', url: '/preview', payload, headers: { 'content-type': contentType, cookie: csm.jar.header() } });
    expect(noToken.statusCode).toBe(403);
  });

  it('a refused preview is audited too; a HEAD of a download is no route: it renders and audits nothing', async () => {
    await accepted(range(1, 10));
    const csm = await signIn(t.app, 'csm');
    const token = (await csm.get('/preview')).body.match(/action="\/preview\?_csrf=([^"]+)"/)![1]!;
    const { payload, contentType } = multipart('no-such-tenant', SECOND, csvOf(range(1, 3)));
    const refused = await t.app.inject({ method: 'POST', url: `/preview?_csrf=${token}`, payload, headers: { 'content-type': contentType, cookie: csm.jar.header() } });
    expect(refused.statusCode).toBe(400);
    const audit = async () => (await t.db.pool.query<{ action: string; detail: string }>(`select action, detail from console_audit where actor = $1 and (action like '%preview%' or action = 'download') order by id`, [USERS.csm])).rows;
    expect(await audit()).toEqual([{ action: 'preview', detail: `refused (${refused.statusCode})` }]);
    const runId = (await t.db.pool.query<{ id: number }>('select max(id)::int as id from runs')).rows[0]!.id;
    const head = await t.app.inject({ method: 'HEAD', url: `/runs/${runId}/files/invites`, headers: { cookie: csm.jar.header() } });
    expect(head.statusCode).toBe(404); // GET only
    expect((await csm.get(`/runs/${runId}/files/invites`)).statusCode).toBe(200);
    expect((await audit()).map((r) => r.action)).toEqual(['preview', 'download']); // the GET only
  });

  it('answers 413 to an upload over previewMaxBytes and leaves nothing on disk', async () => {
    const csm = await signIn(t.app, 'csm');
    const token = (await csm.get('/preview')).body.match(/action="\/preview\?_csrf=([^"]+)"/)![1]!;
    // declared too large: refused before reading
    const big = multipart('acme', FIRST, csvOf(range(1, 2000)));
    expect(big.payload.length).toBeGreaterThan(4096 + 64 * 1024);
    const declared = await t.app.inject({ method: 'POST', url: `/preview?_csrf=${token}`, payload: big.payload, headers: { 'content-type': big.contentType, cookie: csm.jar.header() } });
    expect(declared.statusCode).toBe(413);
    expect(await readdir(path.join(t.tempDir, 'tmp'))).toEqual([]);
    // the file part past the limit while streaming (no content-length)
    const { payload, contentType } = multipart('acme', FIRST, csvOf(range(1, 200)));
    expect(payload.length).toBeGreaterThan(4096 * 2);
    const streamed = await t.app.inject({
      method: 'POST',
      url: `/preview?_csrf=${token}`,
      payload: Readable.from([payload]),
      headers: { 'content-type': contentType, cookie: csm.jar.header() },
    });
    expect(streamed.statusCode).toBe(413);
    expect(streamed.body).toContain('larger than the 4 KiB a preview accepts');
    expect(await readdir(path.join(t.tempDir, 'tmp'))).toEqual([]);
  });

  it('shows the audit log to operators only', async () => {
    const operator = await signIn(t.app, 'operator');
    const audit = await operator.get('/audit');
    expect(audit.statusCode).toBe(200);
    expect(audit.body).toContain('sign-in');
    expect((await (await signIn(t.app, 'csm')).get('/audit')).statusCode).toBe(403);
    expect((await client(t.app).get('/audit')).headers.location).toBe('/login?next=%2Faudit');
  });
});
