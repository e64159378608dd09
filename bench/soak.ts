/**
 * `npm run soak`: the long crash-safety soak (test/soak/harness.ts; the short one runs in the suite,
 * test/soak.short.test.ts). The built service against a private PostgreSQL cluster, OpenSSH sshd on
 * HRIS_TEST_SSHD_PORT (default 2022) and the fake Slack, SIGKILLed --kills times, cycling through every
 * phase (download, validation, transaction, right after the commit, the move, a rejected file's move,
 * four moments of the Slack delivery, and at random), restarted each time; each fault (PostgreSQL
 * restart mid-run, SFTP sessions killed mid-transfer, Slack 500, 429 with Retry-After, a hang past the
 * client timeout) --faults-each times. Then the checks against a clean reference run. Exit 0 when every
 * check passes, 1 otherwise. Needs root (sshd's chroot; PostgreSQL runs as the postgres user).
 *
 *   npm run soak -- [--kills 27] [--faults-each 2] [--tenants 3] [--rows 20000] [--seed N] [--keep]
 */
import { parseArgs } from 'node:util';
import { ALL_FAULTS, ALL_KILL_PHASES, runSoak, type KillPhase } from '../test/soak/harness.js';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: String(ALL_KILL_PHASES.length * 2) },
    'faults-each': { type: 'string', default: '2' },
    tenants: { type: 'string', default: '3' },
    rows: { type: 'string', default: '20000' },
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    keep: { type: 'boolean', default: false },
  },
});

const killCount = Number(values.kills);
const kills: KillPhase[] = Array.from({ length: killCount }, (_, i) => ALL_KILL_PHASES[i % ALL_KILL_PHASES.length]!);
const faults = Array.from({ length: Number(values['faults-each']) }, () => ALL_FAULTS).flat();
const seed = Number(values.seed);
console.log(`soak: seed ${seed} (re-run with --seed ${seed}), ${kills.length} kills, ${faults.length} faults, ${values.tenants} tenants, ${values.rows} rows per file`);

const report = await runSoak({
  tenants: Number(values.tenants),
  rows: Number(values.rows),
  initialFiles: 3,
  kills,
  faults,
  seed,
  slackTimeoutMs: 5000,
  triggerTimeoutMs: 60_000,
  settleTimeoutMs: 600_000,
  keepWorkDir: values.keep,
  log: (text) => console.log(`soak: ${text}`),
});

const phases = new Map<string, number>();
for (const kill of report.kills) phases.set(kill.phase, (phases.get(kill.phase) ?? 0) + 1);
console.log('');
console.log(`${report.files} files, ${report.runs} runs, ${report.kills.length} SIGKILLs, ${report.daemonStarts} service starts, ${report.seconds} s`);
console.log(`kills by phase: ${[...phases].map(([phase, n]) => `${phase} ${n}`).join(', ')}`);
console.log(`Slack: ${report.posts} messages, ${report.repeatedPosts} repeated posts, ${report.repeatedCompletions} repeated file completions (each after a kill in the documented window)`);
for (const fault of report.faults) console.log(`fault ${fault.fault}: ${fault.ok ? 'ok' : 'FAILED'}: ${fault.detail}`);
console.log('');
for (const check of report.checks) console.log(`${check.ok ? 'PASS' : 'FAIL'}  ${check.name}\n      ${check.detail.replace(/\n/g, '\n      ')}`);
if (values.keep) console.log(`\nwork folder kept: ${report.workDir} (daemon-NNN.log: each service run's log)`);
console.log(report.ok ? '\nsoak: every check passed' : '\nsoak: FAILED');
process.exit(report.ok ? 0 : 1);
