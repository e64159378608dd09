/**
 * Alerts of the engine's guard and of the config reload, kept apart from messages.ts (pure functions of
 * what is stored). Customer text (file names, folder names, tenant ids, errors) is escaped for mrkdwn and
 * cut to a bounded length.
 */
import { cut } from '../text/bounded.js';
import { escapeMrkdwn, literal } from './messages.js';
import type { AlertMessage, Block, PostedMessage } from './notifier.js';

const MAX_NAME = 200;
const MAX_ERROR = 1_000;

/** Plain text for the notification line: no mention, link or mrkdwn can come alive. */
function plain(text: string, max: number): string {
  return escapeMrkdwn(cut(text, max));
}

const code = (text: string, max = MAX_NAME): string => literal(text, max);

const section = (text: string): Block => ({ type: 'section', text: { type: 'mrkdwn', text } });

export interface SupersededView {
  runId: number;
  tenantId: string;
  fileName: string;
  supersededBy: number;
  /** The held run's own alert, when it was posted: the reply goes in its thread. */
  thread?: PostedMessage;
  channel?: string;
}

/** A held run made moot by a later accepted run: said in the held alert's thread. */
export function supersededMessage(view: SupersededView): AlertMessage {
  const text =
    `${plain(view.tenantId, MAX_NAME)}: held run ${view.runId} (${plain(view.fileName, MAX_NAME)}) is superseded by run ${view.supersededBy}, ` +
    'accepted since: nothing to decide any more, its changes will not be applied.';
  const blocks: Block[] = [
    section(
      `*Superseded:* held run ${view.runId} (${code(view.fileName)}) no longer needs a decision: run ${view.supersededBy} was accepted ` +
        `for tenant ${code(view.tenantId)} after it was held, so the state it was compared with is gone and its changes will not be applied.`,
    ),
    section('*If its file is still wanted* (e.g. a misnamed file): have it uploaded again; it is diffed against the current state.'),
  ];
  return {
    kind: 'run_superseded',
    text,
    blocks,
    attach: [],
    tenantId: view.tenantId,
    runId: view.runId,
    ...(view.thread ? { thread: view.thread } : {}),
    ...(view.channel ? { channel: view.channel } : {}),
  };
}

/** What the config reload found wrong (src/config/problems.ts queues it once per version). */
export interface ConfigProblemView {
  problem: 'tenant_file_broken' | 'unknown_drop_folder';
  /** tenant_file_broken: the file under tenants/ and why it was refused. */
  file?: string;
  error?: string;
  /** The tenant whose last good version is kept (absent: a new file, nothing loaded). */
  keptTenant?: string;
  /** unknown_drop_folder: the folder on the drop and how many files wait in its inbox. */
  folder?: string;
  files?: number;
}

export function configProblemMessage(view: ConfigProblemView): AlertMessage {
  if (view.problem === 'unknown_drop_folder') {
    const folder = view.folder ?? '?';
    const count = view.files ?? 0;
    const text =
      `SFTP drop folder ${plain(folder, MAX_NAME)} has ${count} file(s) in its inbox and no tenant config: ` +
      'they are not picked up until a tenant file for it is added.';
    return {
      kind: 'config_problem',
      text,
      blocks: [
        section(
          `*Drop folder without a tenant:* ${code(folder)} has ${count} file(s) in its inbox, but no file under ${code('tenants/')} ` +
            'configures it, so nothing there is taken.',
        ),
        section('*What to do:* add the tenant file (its id, or its `drop.inbox`, naming this folder), or remove the folder; the next tick picks it up without a restart.'),
      ],
      attach: [],
    };
  }
  const file = view.file ?? '?';
  const kept = view.keptTenant
    ? `the last good version of tenant ${code(view.keptTenant)} stays in use until the file is fixed`
    : 'it is not loaded (no earlier good version)';
  const text = `Tenant config ${plain(file, MAX_NAME)} is invalid and was not loaded: ${plain(view.error ?? 'unknown error', 300)}`;
  return {
    kind: 'config_problem',
    text,
    blocks: [
      section(`*Tenant config refused:* ${code(file)}; ${kept}.`),
      section(`*Why:* ${code(view.error ?? 'unknown error', MAX_ERROR)}`),
      section('*What to do:* fix the file (`hris-ingest config check` names the problem); every replica picks it up on its next tick or on SIGHUP.'),
    ],
    attach: [],
  };
}
