/**
 * The crash-safety soak: the real `hris-ingest start` (dist/) against a private PostgreSQL cluster, a
 * real OpenSSH sshd drop and the fake Slack API (in this process), killed with SIGKILL at chosen
 * moments (the download, the validation, the database transaction, the move on the drop, the Slack
 * delivery, and at random) and restarted each time; PostgreSQL restarted mid-run, the SFTP sessions
 * killed mid-transfer, Slack answering 500, 429 with Retry-After, and hanging past the client timeout.
 * Then the checks (see CHECKS in checks.ts): every file processed exactly once, each tenant's stored
 * state equal to a clean reference run's, every alert delivered, repeats only as docs/slack.md allows.
 *
 * Used by test/soak.short.test.ts (a few kills and one of each fault) and bench/soak.ts (`npm run soak`).
 */
import { createHash } from 'node:crypto';
import { existsSync, watch } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import pg from 'pg';
import { stringify as toYaml } from 'yaml';
import { tenantConfigSchema } from '../../src/config/tenant.js';
import { ingestFile } from '../../src/pipeline.js';
import { openDatabase } from '../../src/store/db.js';
import { startFakeSlack, type FakeSlack, type RecordedRequest } from '../support/fake-slack.js';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { startSshd, type SshdHandle } from '../support/sshd.js';
import { DaemonProcess, type LogLine } from './daemon.js';
import { TenantFiles, seeded, type SoakFile } from './files.js';
import { checkSoak, type Check, type SoakEvidence } from './checks.js';

/** The repository root (this file runs from test/soak/ under vitest and from dist/test/soak/ under node). */
function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('repository root not found');
    dir = parent;
  }
  return dir;
}

export const REPO = repoRoot();
export const CLI = path.join(REPO, 'dist/src/cli.js');

/** Where a SIGKILL is aimed. */
export type KillPhase =
  | 'download'
  | 'validation'
  | 'transaction'
  /** Right after the ingest transaction committed: output files rendered, the drop registry not yet told. */
  | 'committed'
  | 'move'
  /** A rejected file's move: its errors file is being written to rejected/, the file not yet renamed. */
  | 'move-rejected'
  /** chat.postMessage received: Slack still applies it, the service never learns the ts (a repeat). */
  | 'slack-post'
  /** chat.postMessage applied by Slack, answer not yet sent: the documented repeat window. */
  | 'slack-post-answered'
  /** An upload of a file's bytes. */
  | 'slack-upload'
  /** files.completeUploadExternal applied, answer not yet sent: the completion is repeated. */
  | 'slack-complete-answered'
  | 'random';

export const ALL_KILL_PHASES: KillPhase[] = [
  'download',
  'validation',
  'transaction',
  'committed',
  'move',
  'move-rejected',
  'slack-post',
  'slack-post-answered',
  'slack-upload',
  'slack-complete-answered',
  'random',
];

export type Fault = 'postgres-restart' | 'sftp-kill' | 'slack-500' | 'slack-429' | 'slack-hang';
export const ALL_FAULTS: Fault[] = ['postgres-restart', 'sftp-kill', 'slack-500', 'slack-429', 'slack-hang'];

export interface SoakOptions {
  tenants: number;
  /** Members per file. */
  rows: number;
  /** Files per tenant in the inbox at the start (more are uploaded while the soak needs work). */
  initialFiles: number;
  /** The kills, in the order planned (shuffled with the faults). */
  kills: KillPhase[];
  faults: Fault[];
  seed: number;
  /** Slack client timeout (slack.timeoutMs): the hang fault waits this long. */
  slackTimeoutMs: number;
  /** Budget for one trigger to fire (a kill aimed at a phase) before it counts as missed. */
  triggerTimeoutMs: number;
  /** Budget for the service to finish every file and alert at the end. */
  settleTimeoutMs: number;
  log: (text: string) => void;
  /** Keep the work folder (logs of every daemon run) after the soak. */
  keepWorkDir?: boolean;
}

export interface KillRecord {
  seq: number;
  phase: KillPhase;
  /** What was seen at the moment (the daemon's query, the Slack call, the last log line). */
  detail: string;
  afterMs: number;
}

export interface FaultRecord {
  fault: Fault;
  detail: string;
  ok: boolean;
}

export interface SoakReport {
  ok: boolean;
  checks: Check[];
  kills: KillRecord[];
  missedKills: KillPhase[];
  faults: FaultRecord[];
  unexpectedExits: string[];
  files: number;
  runs: number;
  posts: number;
  repeatedPosts: number;
  repeatedCompletions: number;
  daemonStarts: number;
  seconds: number;
  workDir: string;
}

/** The Retry-After of the fake Slack's 429 answers. */
const RETRY_AFTER_SECONDS = 3;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class Timeout extends Error {}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const began = Date.now();
  const log = (text: string) => options.log(`[${((Date.now() - began) / 1000).toFixed(1)}s] ${text}`);
  const random = seeded(options.seed);
  const work = await mkdtemp(path.join(tmpdir(), 'hris-soak-'));
  const cleanups: Array<() => Promise<void>> = [];
  try {
    log(`work folder ${work}`);
    const postgres: PrivatePostgres = await startPrivatePostgres();
    cleanups.push(() => postgres.stop());
    const soakUrl = await postgres.createDatabase('soak');
    const referenceUrl = await postgres.createDatabase('reference');
    log(`private PostgreSQL on port ${postgres.port}`);
    const sshd: SshdHandle = await startSshd();
    cleanups.push(() => sshd.stop());
    log(`sshd on port ${sshd.port}`);

    // ---- the fake Slack, with the soak's hooks -------------------------------------------------
    let seq = 0;
    const posts = new Map<string, number>(); // message ts -> seq of its request (when Slack received it)
    const completions: SoakEvidence['completions'] = [];
    const requestTimes = new Map<RecordedRequest, number>();
    // Slack has a request once it has received it (a client dying then does not take it back), so the
    // order of events that matters is the request's arrival: numbered with the kills.
    const requestSeqs = new Map<RecordedRequest, number>();
    let slackTrigger: ((stage: 'received' | 'answering', request: RecordedRequest) => boolean) | undefined;
    let slack: FakeSlack | undefined = undefined;
    slack = await startFakeSlack({
      onRequest(stage, request) {
        if (stage === 'received') {
          requestTimes.set(request, Date.now());
          requestSeqs.set(request, ++seq);
        }
        if (stage === 'answering' && request.status === 200 && !request.error) {
          if (request.method === 'chat.postMessage') posts.set(slack!.messages[slack!.messages.length - 1]!.ts, requestSeqs.get(request)!);
          if (request.method === 'files.completeUploadExternal') {
            const files = JSON.parse(String(request.params.files)) as Array<{ id: string }>;
            completions.push({ seq: requestSeqs.get(request)!, threadTs: String(request.params.thread_ts ?? ''), fileIds: files.map((f) => f.id) });
          }
        }
        if (slackTrigger?.(stage, request)) slackTrigger = undefined;
      },
    });
    cleanups.push(() => slack!.close());

    // ---- configuration: app.yaml and one tenant file each -----------------------------------
    const tenants = Array.from({ length: options.tenants }, (_, i) => `soak${i + 1}`);
    const config = path.join(work, 'config');
    await mkdir(path.join(config, 'tenants'), { recursive: true });
    const app = {
      drop: {
        host: sshd.host,
        port: sshd.port,
        user: sshd.user,
        privateKeyFile: sshd.clientKeyFile,
        hostKeySha256: sshd.hostKeySha256,
        // Taken on the second listing with the same size and mtime (files are renamed into place whole).
        stableSeconds: 0,
        // A killed poller's tenant claim runs out after this (the real mechanism, kept short).
        claimSeconds: 4,
      },
      schedule: { cron: '* * * * * *', maxParallelTenants: 2 },
      slack: { botToken: slack.token, apiUrl: slack.url, channel: 'C0HRISFILES', timeoutMs: options.slackTimeoutMs },
      http: { port: 0 },
      log: { level: 'info', format: 'json' },
    };
    await writeFile(path.join(config, 'app.yaml'), toYaml(app));
    for (const id of tenants) await writeFile(path.join(config, 'tenants', `${id}.yaml`), toYaml({ id, name: `Soak ${id}` }));
    const env: NodeJS.ProcessEnv = cleanEnv({ HRIS_CONFIG_DIR: config, HRIS_DATA_DIR: path.join(work, 'data'), DATABASE_URL: soakUrl });

    // ---- files: a sequence per tenant, put in the inbox whole (rename from .part) -------------
    const sequences = new Map(tenants.map((id, i) => [id, new TenantFiles(id, options.rows, options.seed * 100 + i)]));
    const inbox = (tenant: string) => path.join(sshd.root, tenant, 'inbox');
    for (const id of tenants) {
      for (const folder of ['inbox', 'processed', 'rejected']) await mkdir(path.join(sshd.root, id, folder), { recursive: true });
    }
    const upload = async (file: SoakFile) => {
      const target = path.join(inbox(file.tenant), file.name);
      await writeFile(`${target}.part`, file.content);
      await rename(`${target}.part`, target);
    };
    const uploadNext = async (count: number) => {
      for (let i = 0; i < count; i++) for (const files of sequences.values()) await upload(files.next());
    };
    await uploadNext(options.initialFiles);
    const filesLeft = async () => {
      let n = 0;
      for (const id of tenants) n += (await readdir(inbox(id))).filter((name) => name.endsWith('.csv')).length;
      return n;
    };
    /** Keeps files waiting in the inboxes, so there is work at every moment. */
    const ensureWork = async () => {
      if ((await filesLeft()) < options.tenants * 2) await uploadNext(2);
    };

    // ---- the soak's own view of the database (reconnects after a PostgreSQL restart) ---------
    let observer: pg.Client | undefined;
    const query = async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> => {
      for (let attempt = 0; ; attempt++) {
        try {
          if (!observer) {
            const client = new pg.Client({ connectionString: soakUrl, application_name: 'soak-observer' });
            client.on('error', () => undefined);
            await client.connect();
            observer = client;
          }
          return await observer.query<R>(text, values);
        } catch (error) {
          await observer?.end().catch(() => undefined);
          observer = undefined;
          if (attempt >= 50) throw error;
          await sleep(200);
        }
      }
    };
    cleanups.push(async () => {
      await observer?.end().catch(() => undefined);
    });

    // ---- the daemon ------------------------------------------------------------------------
    let daemon: DaemonProcess | undefined;
    let starts = 0;
    const unexpectedExits: string[] = [];
    const startDaemon = () => {
      starts++;
      const started = new DaemonProcess(CLI, { cwd: work, env, logFile: path.join(work, `daemon-${String(starts).padStart(3, '0')}.log`) });
      void started.exited.then(({ code, signal }) => {
        if (!started.killedBySoak) {
          unexpectedExits.push(`run ${starts}: exit ${code ?? signal}; last lines:\n${started.tail.slice(-8).join('\n')}`);
          log(`the service exited by itself (exit ${code ?? signal}); restarting it`);
        }
      });
      daemon = started;
      return started;
    };
    const ensureDaemon = () => (daemon && daemon.alive ? daemon : startDaemon());
    cleanups.push(async () => {
      if (daemon?.alive) await daemon.stop('SIGKILL');
    });

    const kills: KillRecord[] = [];
    const missedKills: KillPhase[] = [];
    let killedAt = Date.now();
    /** SIGKILL the service now (synchronously) and record it. */
    const killNow = (phase: KillPhase, detail: string): boolean => {
      if (!daemon?.killNow()) return false;
      kills.push({ seq: ++seq, phase, detail, afterMs: Date.now() - killedAt });
      return true;
    };
    /** After a kill: wait for the exit, let the dead worker's delivery lease run out, start again. */
    const restartAfterKill = async () => {
      await daemon?.exited;
      // The delivery lease (10 min) of alerts the killed process had claimed: what waiting it out would
      // do, without waiting. Its tenant claims run out by themselves (claimSeconds: 4).
      await query('update outbox set locked_until = null where delivered_at is null and locked_until is not null');
      killedAt = Date.now();
      startDaemon();
    };

    const waitForLine = (test: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine> =>
      new Promise((resolve, reject) => {
        const target = ensureDaemon();
        const timer = setTimeout(() => {
          off();
          reject(new Timeout('no such log line'));
        }, timeoutMs);
        const off = target.onLine((line) => {
          if (!test(line)) return;
          clearTimeout(timer);
          off();
          resolve(line);
        });
      });

    /**
     * Polls the ingest transactions in flight (sessions holding a tenant lock) until DECIDE says act on
     * one: it gets the session's current (or last) query and whether that transaction has staged rows yet.
     */
    const staged = new Set<string>();
    const watchTransaction = async (decide: (query: string, stagedYet: boolean) => boolean, timeoutMs: number): Promise<string> => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        ensureDaemon();
        const held = await query<{ key: string; query: string }>(
          `select a.pid || ':' || a.xact_start as key, a.query from pg_locks l join pg_stat_activity a on a.pid = l.pid
           where l.locktype = 'advisory' and l.granted and l.classid = 72616002 and a.application_name <> 'soak-observer'`,
        );
        for (const row of held.rows) {
          if (STAGING.test(row.query)) staged.add(row.key);
          if (decide(row.query, staged.has(row.key))) return row.query;
        }
        await sleep(5);
      }
      throw new Timeout('no ingest transaction seen');
    };
    /** Waits for an ingest transaction past its staging to end (commit): the moment after it. */
    const watchCommit = async (timeoutMs: number): Promise<string> => {
      const deadline = Date.now() + timeoutMs;
      const late = new Map<string, string>();
      while (Date.now() < deadline) {
        ensureDaemon();
        const held = await query<{ key: string; query: string }>(
          `select a.pid || ':' || a.xact_start as key, a.query from pg_locks l join pg_stat_activity a on a.pid = l.pid
           where l.locktype = 'advisory' and l.granted and l.classid = 72616002 and a.application_name <> 'soak-observer'`,
        );
        const now = new Set(held.rows.map((r) => r.key));
        for (const [key, last] of late) if (!now.has(key)) return last;
        for (const row of held.rows) {
          if (STAGING.test(row.query)) staged.add(row.key);
          else if (staged.has(row.key)) late.set(row.key, row.query);
        }
        await sleep(3);
      }
      throw new Timeout('no ingest transaction ended');
    };
    const STAGING = /ingest_stage_\d+|create temp table/i;
    const queryLabel = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 60);

    /** Aims one SIGKILL at PHASE; false when the moment did not come within the budget. */
    const killAt = async (phase: KillPhase): Promise<boolean> => {
      await ensureWork();
      const target = ensureDaemon();
      const timeout = options.triggerTimeoutMs;
      try {
        switch (phase) {
          case 'download': {
            const line = await waitForLine((l) => l.msg === 'file taken from the drop', timeout);
            await sleep(Math.floor(random() * 15));
            if (!killNow(phase, `file taken: ${String(line.file)}`)) return false;
            break;
          }
          case 'validation':
          case 'transaction': {
            const seen = await watchTransaction((text, stagedYet) => {
              const staging = STAGING.test(text);
              const inPhase = phase === 'validation' ? staging : stagedYet && !staging;
              return inPhase && random() < 0.4;
            }, timeout);
            if (!killNow(phase, `query: ${queryLabel(seen)}`)) return false;
            break;
          }
          case 'committed': {
            const last = await watchCommit(timeout);
            if (!killNow(phase, `right after the commit (last query: ${queryLabel(last)})`)) return false;
            break;
          }
          case 'move': {
            const line = await waitForLine((l) => l.msg === 'drop file ingested', timeout);
            await sleep(Math.floor(random() * 8));
            if (!killNow(phase, `after ingest of ${String(line.file)} (${String(line.status)})`)) return false;
            break;
          }
          case 'move-rejected': {
            // A rejected file must come: upload the first tenant's files up to its next invalid one.
            const first = sequences.get(tenants[0]!)!;
            for (let i = 0; i < 7 && first.files[first.files.length - 1]!.kind !== 'invalid'; i++) await upload(first.next());
            // The drop is a local folder here: inotify says when the errors file is created in rejected/.
            const fired = await new Promise<boolean>((resolve, reject) => {
              const watchers = tenants.map((id) =>
                watch(path.join(sshd.root, id, 'rejected'), (_event, name) => {
                  if (!name?.endsWith('.errors.csv') || !existsSync(path.join(inbox(id), name.slice(0, -'.errors.csv'.length)))) return;
                  done();
                  resolve(killNow(phase, `${id}/rejected/${name} being written, the file still in the inbox`));
                }),
              );
              const timer = setTimeout(() => {
                done();
                reject(new Timeout('no rejected file moved'));
              }, timeout);
              const done = () => {
                clearTimeout(timer);
                for (const w of watchers) w.close();
              };
            });
            if (!fired) return false;
            break;
          }
          case 'slack-post':
          case 'slack-post-answered':
          case 'slack-upload':
          case 'slack-complete-answered': {
            const [method, stage] = ({
              'slack-post': ['chat.postMessage', 'received'],
              'slack-post-answered': ['chat.postMessage', 'answering'],
              'slack-upload': ['upload', 'received'],
              'slack-complete-answered': ['files.completeUploadExternal', 'answering'],
            } as const)[phase];
            let fired = false;
            await new Promise<void>((resolve, reject) => {
              const timer = setTimeout(() => {
                slackTrigger = undefined;
                reject(new Timeout('no Slack call'));
              }, timeout);
              slackTrigger = (at, request) => {
                if (at !== stage || request.method !== method) return false;
                if (stage === 'answering' && (request.status !== 200 || request.error)) return false;
                if (!target.alive) return false;
                fired = killNow(phase, `${method} ${stage}${runOf(request) ? ` (run ${runOf(request)})` : ''}`);
                clearTimeout(timer);
                resolve();
                return true;
              };
            });
            if (!fired) return false;
            break;
          }
          case 'random': {
            const delay = 300 + Math.floor(random() * 5000);
            let last = '';
            const off = target.onLine((l) => {
              last = String(l.msg ?? '');
            });
            await sleep(delay);
            off();
            if (!killNow(phase, `${delay} ms after the previous start; last log line: ${last}`)) return false;
            break;
          }
        }
      } catch (error) {
        if (error instanceof Timeout) return false;
        throw error;
      }
      await restartAfterKill();
      return true;
    };

    const faults: FaultRecord[] = [];
    const pgRestarts: number[] = [];
    const injectFault = async (fault: Fault): Promise<FaultRecord> => {
      await ensureWork();
      const target = ensureDaemon();
      const timeout = options.triggerTimeoutMs;
      const linesSince = () => {
        const lines: LogLine[] = [];
        const off = target.onLine((l) => lines.push(l));
        return { lines, off };
      };
      try {
        switch (fault) {
          case 'postgres-restart': {
            const seen = await watchTransaction((text) => !/pg_advisory_xact_lock/.test(text) && random() < 0.3, timeout);
            const watch = linesSince();
            pgRestarts.push(++seq);
            await postgres.restart('immediate');
            // The ingest in flight must fail and be retried (not stored half), and the service must live on.
            const retried = (l: LogLine) => /ingest of a drop file failed|tenant poll failed|file not processed/.test(String(l.msg));
            await waitFor(() => !target.alive || watch.lines.some(retried), 30_000);
            watch.off();
            if (!target.alive) return { fault, ok: false, detail: `restarted during "${queryLabel(seen)}": the service exited (see the first check)` };
            const failed = watch.lines.find(retried);
            return { fault, ok: target.alive, detail: `restarted during "${queryLabel(seen)}"; the service logged "${String(failed?.msg)}" and ${target.alive ? 'kept running' : 'exited'}` };
          }
          case 'sftp-kill': {
            // Kill the drop's sessions right after a file is taken, until a download is cut (a few tries).
            for (let attempt = 1; attempt <= 6; attempt++) {
              await ensureWork();
              const watch = linesSince();
              const line = await waitForLine((l) => l.msg === 'file taken from the drop', timeout);
              await sleep(Math.floor(random() * 6));
              const killed = sshd.killSessionsSync();
              await sleep(1500);
              watch.off();
              const cut = watch.lines.find((l) => l.msg === 'drop download failed; retried next tick');
              if (cut) return { fault, ok: target.alive, detail: `attempt ${attempt}: ${killed} sshd session processes killed during the download of ${String(line.file)}: "${String(cut.err)}"` };
            }
            return { fault, ok: false, detail: 'no download was cut in 6 attempts (every kill landed outside a transfer)' };
          }
          case 'slack-500':
          case 'slack-429':
          case 'slack-hang': {
            const rule =
              fault === 'slack-500'
                ? { methods: ['chat.postMessage', 'upload'], status: 500, times: 2 }
                : fault === 'slack-429'
                  ? { methods: ['chat.postMessage'], status: 429, retryAfter: RETRY_AFTER_SECONDS, times: 2 }
                  : { methods: ['chat.postMessage', 'files.completeUploadExternal'], hang: true, times: 1 };
            const before = slack!.requests.length;
            slack!.fail(rule);
            const failedOnes = () =>
              slack!.requests.slice(before).filter((r) => (fault === 'slack-hang' ? r.error === 'hang' : r.status === rule.status));
            await waitFor(() => failedOnes().length >= rule.times, timeout);
            return { fault, ok: true, detail: `${failedOnes().length} Slack calls answered ${fault === 'slack-hang' ? 'never (hang)' : `HTTP ${rule.status}`}: ${failedOnes().map((r) => r.method).join(', ')}` };
          }
        }
      } catch (error) {
        if (error instanceof Timeout) return { fault, ok: false, detail: `the moment for the fault did not come within ${timeout} ms` };
        throw error;
      }
    };

    // ---- the plan: the kills and the faults in a random order -------------------------------
    const plan: Array<{ kill: KillPhase } | { fault: Fault }> = [...options.kills.map((kill) => ({ kill })), ...options.faults.map((fault) => ({ fault }))];
    for (let i = plan.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [plan[i], plan[j]] = [plan[j]!, plan[i]!];
    }
    startDaemon();
    for (const [i, step] of plan.entries()) {
      if ('kill' in step) {
        const hit = await killAt(step.kill);
        if (!hit) missedKills.push(step.kill);
        const record = kills[kills.length - 1];
        log(`${i + 1}/${plan.length} SIGKILL ${step.kill}: ${hit && record ? record.detail : 'MISSED (the moment did not come)'}`);
      } else {
        const record = await injectFault(step.fault);
        faults.push(record);
        log(`${i + 1}/${plan.length} fault ${step.fault}: ${record.ok ? 'ok' : 'FAILED'}: ${record.detail}`);
      }
    }

    // ---- settle: Slack healthy again, every file and alert done ----------------------------
    slack.clearFailures();
    const uploaded = [...sequences.values()].flatMap((files) => files.files);
    log(`settling: ${uploaded.length} files uploaded; waiting for every file and alert`);
    const settled = async () => {
      ensureDaemon();
      // Alerts that failed under the faults (and the kills, which count as attempts) back off
      // exponentially, minutes after a few: brought forward once Slack is healthy, as waiting would. Short
      // waits (a 429's Retry-After) are left alone: the 429 check reads them.
      await query(`update outbox set next_attempt_at = now() where delivered_at is null and next_attempt_at > now() + interval '10 seconds'`);
      // A pass that failed on a PostgreSQL restart could not release its claims: their 10-minute lease
      // runs out (a hung pass still delivers nothing, so a hang is still caught).
      await query(`update outbox set locked_until = null where delivered_at is null and locked_until > now() + interval '10 seconds'`);
      if ((await filesLeft()) > 0) return false;
      const state = await query<{ open_files: number; undelivered: number }>(
        `select (select count(*)::int from drop_files where state <> 'done') as open_files,
                (select count(*)::int from outbox where delivered_at is null) as undelivered`,
      );
      return state.rows[0]!.open_files === 0 && state.rows[0]!.undelivered === 0;
    };
    const settleBy = Date.now() + options.settleTimeoutMs;
    let isSettled = false;
    while (Date.now() < settleBy && !(isSettled = await settled())) await sleep(1000);
    if (!isSettled) {
      const left = await query<{ what: string }>(
        `select 'drop file ' || tenant_id || '/' || file_name || ': ' || state || coalesce(' (' || last_error || ')', '') as what from drop_files where state <> 'done'
         union all
         select 'alert ' || id || ' (run ' || coalesce(run_id::text, '-') || '): ' || attempts || ' attempts, next ' || next_attempt_at || coalesce(', locked until ' || locked_until, '') || coalesce(' (' || last_error || ')', '')
         from outbox where delivered_at is null`,
      );
      log(`NOT settled within the budget: ${await filesLeft()} files in the inboxes; ${left.rows.map((r) => r.what).join('; ') || 'nothing open in the database'}; the service's last lines:\n${daemon?.tail.slice(-10).join('\n')}`);
    }
    const stopped = await daemon!.stop('SIGTERM');
    if (stopped.code !== 0) unexpectedExits.push(`the final SIGTERM ended the service with ${stopped.code ?? stopped.signal}`);

    // ---- the clean reference: the same files through `hris-ingest ingest`, in order ---------
    log('reference: the same files, in order, into a fresh database without faults');
    const reference = await referenceRun(work, tenants, uploaded, referenceUrl);

    const evidence: SoakEvidence = {
      tenants,
      uploaded,
      dropRoot: sshd.root,
      soakUrl,
      referenceUrl,
      referenceOut: reference.outDir,
      slack,
      posts,
      completions,
      requestTimes,
      requestSeqs,
      kills,
      pgRestarts,
      retryAfterSeconds: RETRY_AFTER_SECONDS,
      slackTimeoutMs: options.slackTimeoutMs,
    };
    const checks = await checkSoak(evidence);
    checks.unshift({
      name: 'the service never exited by itself (PostgreSQL restart, SFTP kill, Slack faults included)',
      ok: unexpectedExits.length === 0,
      detail: unexpectedExits.length === 0 ? `${starts} starts, every end was a SIGKILL or the final SIGTERM` : unexpectedExits.join('\n'),
    });
    checks.push({
      name: 'every planned kill landed and every fault was injected as described',
      ok: missedKills.length === 0 && faults.every((f) => f.ok),
      detail: `${kills.length} kills (${countBy(kills.map((k) => k.phase))}); missed: ${missedKills.join(', ') || 'none'}; faults: ${faults.map((f) => `${f.fault} ${f.ok ? 'ok' : 'FAILED'}`).join(', ') || 'none'}`,
    });
    const stats = checks.find((c) => c.stats)?.stats ?? { posts: 0, repeatedPosts: 0, repeatedCompletions: 0, runs: 0 };
    return {
      ok: checks.every((c) => c.ok),
      checks,
      kills,
      missedKills,
      faults,
      unexpectedExits,
      files: uploaded.length,
      runs: stats.runs,
      posts: stats.posts,
      repeatedPosts: stats.repeatedPosts,
      repeatedCompletions: stats.repeatedCompletions,
      daemonStarts: starts,
      seconds: Math.round((Date.now() - began) / 1000),
      workDir: work,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`cleanup: ${(error as Error).message}`));
    if (!options.keepWorkDir) await rm(work, { recursive: true, force: true });
  }
}

/** The run id a Slack request is about ("... Run 12." in the message text), if any. */
export function runOf(request: RecordedRequest): number | undefined {
  const text = typeof request.params.text === 'string' ? request.params.text : '';
  const found = [...text.matchAll(/\bRun (\d+)\b/g)].pop();
  return found ? Number(found[1]) : undefined;
}

async function waitFor(test: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Timeout('condition not reached');
    await sleep(50);
  }
}

function countBy(values: string[]): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].map(([value, n]) => `${value} ${n}`).join(', ');
}

/** The environment of a service run: nothing inherited that the app reads, then VALUES. */
export function cleanEnv(values: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const name of Object.keys(env)) {
    if (/^(DATABASE_URL|HRIS_|DROP_|SLACK_|SCHEDULE_|HTTP_|DASHBOARD_URL|RETENTION_DAYS|LOG_)/.test(name)) delete env[name];
  }
  return { ...env, ...values };
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The clean reference: every file through the engine's ingest (what `hris-ingest ingest --out` runs),
 * tenant by tenant in upload order, on a fresh database, in this process (a CLI start per file cost
 * ~3 s here; the engine is the same).
 */
async function referenceRun(work: string, tenants: string[], uploaded: SoakFile[], url: string): Promise<{ outDir: string }> {
  const outDir = path.join(work, 'reference-out');
  const db = await openDatabase({ url });
  try {
    for (const id of tenants) {
      const tenant = tenantConfigSchema.parse({ id, name: `Soak ${id}` });
      for (const file of uploaded.filter((f) => f.tenant === id)) {
        await ingestFile({ db }, tenant, { name: file.name, open: () => Readable.from([Buffer.from(file.content)]) }, { outDir });
      }
    }
  } finally {
    await db.close();
  }
  return { outDir };
}

