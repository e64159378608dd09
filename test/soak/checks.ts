/**
 * What the soak proves, read from the database, the drop's folders and the fake Slack once the service
 * has settled. Each check says what it compared and, when it fails, what differed (file names, run ids
 * and counts; never member data).
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { storedRowSql } from '../../src/store/member-rows.js';
import type { FakeSlack, RecordedRequest } from '../support/fake-slack.js';
import type { SoakFile } from './files.js';
import type { KillRecord } from './harness.js';
import { runOf, sha256 } from './harness.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  stats?: { runs: number; posts: number; repeatedPosts: number; repeatedCompletions: number };
}

export interface SoakEvidence {
  tenants: string[];
  uploaded: SoakFile[];
  /** Local folder that is "/" on the drop. */
  dropRoot: string;
  soakUrl: string;
  referenceUrl: string;
  /** The reference run's output files. */
  referenceOut: string;
  slack: FakeSlack;
  /** Message ts -> event sequence number of the post's request (when Slack received it). */
  posts: Map<string, number>;
  /** files.completeUploadExternal calls Slack applied, in order. */
  completions: Array<{ seq: number; threadTs: string; fileIds: string[] }>;
  /** When each Slack request arrived, and its event sequence number (kills are numbered alike). */
  requestTimes: Map<RecordedRequest, number>;
  requestSeqs: Map<RecordedRequest, number>;
  kills: KillRecord[];
  /** Event sequence numbers of the PostgreSQL restarts. */
  pgRestarts: number[];
  retryAfterSeconds: number;
  slackTimeoutMs: number;
}

interface RunRow {
  id: number;
  tenant_id: string;
  file_name: string;
  file_date: string | null;
  sha256: string;
  status: string;
  rows: number;
  error_count: number;
  counts: Record<string, number>;
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const RUNS = `select id::int as id, tenant_id, file_name, to_char(file_date, 'YYYY-MM-DD') as file_date, sha256, status, rows, error_count, counts
              from runs order by id`;
const MEMBERS = `select m.tenant_id, m.member_key, m.email, m.employee_id, m.row_hash, m.on_platform, ${storedRowSql('m')} as data
                 from members m order by m.tenant_id, m.member_key`;

const sortedKeys = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(sortedKeys)
    : value && typeof value === 'object'
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, sortedKeys(v)]))
      : value;

export async function checkSoak(evidence: SoakEvidence): Promise<Check[]> {
  const checks: Check[] = [];
  const { uploaded, slack } = evidence;
  const soakRuns = await withClient(evidence.soakUrl, async (c) => (await c.query<RunRow>(RUNS)).rows);
  const referenceRuns = await withClient(evidence.referenceUrl, async (c) => (await c.query<RunRow>(RUNS)).rows);

  // 1. Exactly once: one run per uploaded file (tenant + name + content hash), and no other run.
  {
    const problems: string[] = [];
    for (const file of uploaded) {
      const runs = soakRuns.filter((r) => r.tenant_id === file.tenant && r.file_name === file.name);
      if (runs.length !== 1) problems.push(`${file.tenant}/${file.name}: ${runs.length} runs (${runs.map((r) => `${r.id} ${r.status}`).join(', ')})`);
      else if (runs[0]!.sha256 !== sha256(file.content)) problems.push(`${file.tenant}/${file.name}: run ${runs[0]!.id} has another content hash`);
    }
    const strays = soakRuns.filter((r) => !uploaded.some((f) => f.tenant === r.tenant_id && f.name === r.file_name));
    for (const r of strays) problems.push(`run ${r.id} (${r.tenant_id}/${r.file_name}) is of no uploaded file`);
    checks.push({
      name: 'every file processed exactly once (one run per tenant + file + content hash)',
      ok: problems.length === 0,
      detail: problems.length === 0 ? `${uploaded.length} files, ${soakRuns.length} runs` : problems.join('\n'),
    });
  }

  // 2. The drop: nothing left in an inbox; each file in processed/ or rejected/ (with its errors file) once.
  {
    const problems: string[] = [];
    const registry = await withClient(evidence.soakUrl, async (c) =>
      (await c.query<{ state: string; n: number }>(`select state, count(*)::int as n from drop_files group by state`)).rows,
    );
    for (const row of registry) if (row.state !== 'done') problems.push(`${row.n} drop_files rows still ${row.state}`);
    for (const tenant of evidence.tenants) {
      const list = async (folder: string) => {
        const dir = path.join(evidence.dropRoot, tenant, folder);
        return existsSync(dir) ? (await readdir(dir)).sort() : [];
      };
      const statusOf = (file: SoakFile) => soakRuns.find((r) => r.tenant_id === tenant && r.file_name === file.name)?.status;
      const files = uploaded.filter((f) => f.tenant === tenant);
      const inbox = await list('inbox');
      if (inbox.length > 0) problems.push(`${tenant}/inbox still holds ${inbox.length} files: ${inbox.slice(0, 5).join(', ')}`);
      const processed = files.filter((f) => statusOf(f) === 'accepted' || statusOf(f) === 'duplicate').map((f) => f.name).sort();
      const rejected = files.filter((f) => statusOf(f) === 'rejected').flatMap((f) => [f.name, `${f.name}.errors.csv`]).sort();
      const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
      const inProcessed = await list('processed');
      const inRejected = await list('rejected');
      if (!sameList(inProcessed, processed)) problems.push(`${tenant}/processed: ${diffList(inProcessed, processed)}`);
      if (!sameList(inRejected, rejected)) problems.push(`${tenant}/rejected: ${diffList(inRejected, rejected)}`);
    }
    checks.push({
      name: 'every uploaded file moved out of the inbox once, to processed/ or rejected/ (+ its errors file)',
      ok: problems.length === 0,
      detail: problems.length === 0 ? `${evidence.tenants.length} inboxes empty; every drop_files row done` : problems.join('\n'),
    });
  }

  // 3. The runs equal the clean reference run's (same outcome and counts for each file, in order).
  {
    const view = (r: RunRow) => JSON.stringify([r.tenant_id, r.file_name, r.status, r.rows, r.error_count, sortedKeys(r.counts)]);
    const problems: string[] = [];
    for (const tenant of evidence.tenants) {
      const ours = soakRuns.filter((r) => r.tenant_id === tenant).map(view);
      const theirs = referenceRuns.filter((r) => r.tenant_id === tenant).map(view);
      if (ours.length !== theirs.length) problems.push(`${tenant}: ${ours.length} runs, reference ${theirs.length}`);
      for (let i = 0; i < Math.max(ours.length, theirs.length); i++) {
        if (ours[i] !== theirs[i]) problems.push(`${tenant} run #${i + 1}: ${ours[i] ?? 'none'} | reference ${theirs[i] ?? 'none'}`);
      }
    }
    checks.push({
      name: "each file's outcome and counts equal the clean reference run's",
      ok: problems.length === 0,
      detail: problems.length === 0 ? `${soakRuns.length} runs compared` : problems.slice(0, 20).join('\n'),
    });
  }

  // 4. Each tenant's stored state (members and their last accepted rows) equals the reference's.
  {
    const rows = async (url: string) => (await withClient(url, (c) => c.query<Record<string, unknown>>(MEMBERS))).rows.map((r) => JSON.stringify(sortedKeys(r)));
    const ours = await rows(evidence.soakUrl);
    const theirs = await rows(evidence.referenceUrl);
    const mine = new Set(ours);
    const reference = new Set(theirs);
    const missing = theirs.filter((r) => !mine.has(r)).length;
    const extra = ours.filter((r) => !reference.has(r)).length;
    const perTenant = evidence.tenants.map((t) => `${t} ${ours.filter((r) => r.includes(`"tenant_id":"${t}"`)).length}`).join(', ');
    checks.push({
      name: "each tenant's stored members equal the clean reference run's (every column, every row)",
      ok: missing === 0 && extra === 0 && ours.length > 0,
      detail: `${ours.length} member rows (${perTenant}), reference ${theirs.length}; differing: ${missing} missing, ${extra} extra`,
    });
  }

  // 5. Every alert delivered: one outbox row per run, delivered, and its message is in the channel.
  const outbox = await withClient(evidence.soakUrl, async (c) =>
    (
      await c.query<{ id: number; kind: string; run_id: number | null; delivered_at: Date | null; delivery_ref: string | null; message_ts: string | null }>(
        'select id::int as id, kind, run_id::int as run_id, delivered_at, delivery_ref, message_ts from outbox order by id',
      )
    ).rows,
  );
  const topLevel = slack.messages.filter((m) => !m.threadTs);
  const messageOf = (ts: string | null) => topLevel.find((m) => m.ts === ts);
  {
    const problems: string[] = [];
    for (const runRow of soakRuns) {
      const alerts = outbox.filter((o) => o.kind === 'run' && o.run_id === runRow.id);
      if (alerts.length !== 1) problems.push(`run ${runRow.id}: ${alerts.length} alerts queued`);
      for (const alert of alerts) {
        if (!alert.delivered_at) problems.push(`run ${runRow.id}: alert ${alert.id} not delivered`);
        const message = messageOf(alert.message_ts);
        if (!message) problems.push(`run ${runRow.id}: alert ${alert.id}'s message ${alert.message_ts} is not in the channel`);
        else if (!new RegExp(`\\bRun ${runRow.id}\\b`).test(message.text)) problems.push(`run ${runRow.id}: its message does not name the run`);
      }
    }
    for (const other of outbox.filter((o) => o.kind !== 'run' && !o.delivered_at)) problems.push(`${other.kind} alert ${other.id} not delivered`);
    checks.push({
      name: 'every alert delivered (one per run, in the channel, naming its run)',
      ok: problems.length === 0,
      detail: problems.length === 0 ? `${outbox.length} alerts delivered (${outbox.filter((o) => o.kind === 'run').length} run alerts)` : problems.slice(0, 20).join('\n'),
    });
  }

  // 6. Repeats only where docs/slack.md says one can happen: the process died after Slack accepted the
  //    post (or the files' completion) and before the ts (files_done_at) was committed. So two posts of
  //    one alert must have a kill of the service between them; the alert's ts is its last post; the
  //    orphaned message has no files; two completions into one thread have a kill between them.
  let repeatedPosts = 0;
  let repeatedCompletions = 0;
  {
    const problems: string[] = [];
    const killSeqs = evidence.kills.map((k) => k.seq);
    const killBetween = (a: number, b: number) => killSeqs.some((s) => s > a && s < b);
    // docs/slack.md: the ts (files_done_at) could not be committed: the process died, or the database was gone.
    const restartBetween = (a: number, b: number) => evidence.pgRestarts.some((s) => s > a && s < b);
    for (const runRow of soakRuns) {
      const alert = outbox.find((o) => o.kind === 'run' && o.run_id === runRow.id);
      const mine = topLevel
        .filter((m) => new RegExp(`\\bRun ${runRow.id}\\b`).test(m.text))
        .map((m) => ({ ts: m.ts, seq: evidence.posts.get(m.ts) ?? -1 }))
        .sort((a, b) => a.seq - b.seq);
      if (mine.length === 0) continue;
      repeatedPosts += mine.length - 1;
      for (let i = 1; i < mine.length; i++) {
        if (!killBetween(mine[i - 1]!.seq, mine[i]!.seq) && !restartBetween(mine[i - 1]!.seq, mine[i]!.seq)) {
          problems.push(`run ${runRow.id}: posted again with no kill of the service nor a PostgreSQL restart in between`);
        }
        if (slack.filesInThread(mine[i - 1]!.ts).length > 0) problems.push(`run ${runRow.id}: the repeated message ${mine[i - 1]!.ts} has files in its thread`);
      }
      if (alert && alert.message_ts !== mine[mine.length - 1]!.ts) problems.push(`run ${runRow.id}: the alert's ts is not its last post`);
      const finalTs = alert?.message_ts ?? mine[mine.length - 1]!.ts;
      const done = evidence.completions.filter((c) => c.threadTs === finalTs).sort((a, b) => a.seq - b.seq);
      repeatedCompletions += Math.max(0, done.length - 1);
      for (let i = 1; i < done.length; i++) {
        if (!killBetween(done[i - 1]!.seq, done[i]!.seq) && !restartBetween(done[i - 1]!.seq, done[i]!.seq)) {
          problems.push(`run ${runRow.id}: files completed again with no kill nor a PostgreSQL restart in between`);
        }
      }
    }
    // The window is real: a kill once Slack has a post (before the answer) is followed by a repost.
    for (const kill of evidence.kills.filter((k) => k.phase === 'slack-post-answered' || k.phase === 'slack-post')) {
      const runId = Number(/\(run (\d+)\)/.exec(kill.detail)?.[1]);
      const count = topLevel.filter((m) => new RegExp(`\\bRun ${runId}\\b`).test(m.text)).length;
      if (!(count >= 2)) problems.push(`kill ${kill.seq} after Slack applied run ${runId}'s post: ${count} posts (expected the documented repeat)`);
    }
    checks.push({
      name: 'repeats only where docs/slack.md allows (a kill between Slack accepting a step and its commit)',
      ok: problems.length === 0,
      detail:
        problems.length === 0
          ? `${topLevel.length} messages for ${soakRuns.length} runs: ${repeatedPosts} repeated posts and ${repeatedCompletions} repeated file completions, each after a kill in that window`
          : problems.slice(0, 20).join('\n'),
      stats: { runs: soakRuns.length, posts: topLevel.length, repeatedPosts, repeatedCompletions },
    });
  }

  // 7. The files in each alert's thread are byte for byte the reference run's output files.
  {
    const problems: string[] = [];
    const referenceFiles = existsSync(evidence.referenceOut) ? await readdir(evidence.referenceOut) : [];
    let compared = 0;
    for (const runRow of soakRuns) {
      const alert = outbox.find((o) => o.kind === 'run' && o.run_id === runRow.id);
      if (!alert?.message_ts) continue;
      const prefix = `${runRow.tenant_id} ${runRow.file_date} `;
      const expected = runRow.status === 'duplicate' ? [] : referenceFiles.filter((name) => name.startsWith(prefix)).sort();
      const done = evidence.completions.filter((c) => c.threadTs === alert.message_ts);
      if (expected.length > 0 && done.length === 0) problems.push(`run ${runRow.id}: no files in its thread (expected ${expected.length})`);
      for (const completion of done) {
        const files = completion.fileIds.map((id) => slack.files.get(id)!);
        const names = files.map((f) => f.filename).sort();
        if (names.join('|') !== expected.join('|')) {
          problems.push(`run ${runRow.id}: thread files ${names.join(', ')} | reference ${expected.join(', ')}`);
          continue;
        }
        for (const file of files) {
          const bytes = await readFile(path.join(evidence.referenceOut, file.filename));
          if (!file.bytes || !bytes.equals(file.bytes)) problems.push(`run ${runRow.id}: ${file.filename} differs from the reference's`);
          compared++;
        }
      }
    }
    checks.push({
      name: "the files in each alert's thread equal the reference run's output files, byte for byte",
      ok: problems.length === 0,
      detail: problems.length === 0 ? `${compared} files compared` : problems.slice(0, 20).join('\n'),
    });
  }

  // 8. Slack faults: a 429 is retried no sooner than its Retry-After; a hung call after the client timeout.
  {
    const problems: string[] = [];
    const runOfRequest = (r: RecordedRequest) => runOf(r) ?? (r.params.thread_ts ? runOfText(messageOf(String(r.params.thread_ts))?.text) : undefined);
    const faulted = slack.requests.filter((r) => r.status === 429 || r.error === 'hang');
    for (const request of faulted) {
      const runId = runOfRequest(request);
      const at = evidence.requestTimes.get(request);
      if (runId === undefined || at === undefined) continue;
      const next = slack.requests.find((r) => r.method === request.method && (evidence.requestTimes.get(r) ?? 0) > at && runOfRequest(r) === runId);
      const waitMs = evidence.requestTimes.get(next!) ?? Number.NaN;
      const floor = request.status === 429 ? evidence.retryAfterSeconds * 1000 : evidence.slackTimeoutMs;
      // A restart in between starts over (the killed process's wait died with it).
      const from = evidence.requestSeqs.get(request)!;
      const killed = next !== undefined && evidence.kills.some((k) => k.seq > from && k.seq < evidence.requestSeqs.get(next)!);
      if (!next) problems.push(`${request.method} of run ${runId} (${request.status === 429 ? '429' : 'hang'}) was never retried`);
      else if (!killed && waitMs - at < floor - 50) problems.push(`${request.method} of run ${runId} retried after ${waitMs - at} ms, before ${floor} ms (${request.status === 429 ? 'Retry-After' : 'client timeout'})`);
    }
    checks.push({
      name: 'a 429 is retried after its Retry-After, a hung call after the client timeout',
      ok: problems.length === 0,
      detail: problems.length === 0 ? `${faulted.length} faulted calls, each retried in time` : problems.join('\n'),
    });
  }
  return checks;
}

function runOfText(text: string | undefined): number | undefined {
  const found = text ? [...text.matchAll(/\bRun (\d+)\b/g)].pop() : undefined;
  return found ? Number(found[1]) : undefined;
}

function diffList(actual: string[], expected: string[]): string {
  const extra = actual.filter((x) => !expected.includes(x));
  const missing = expected.filter((x) => !actual.includes(x));
  return `extra [${extra.join(', ')}], missing [${missing.join(', ')}]`;
}
