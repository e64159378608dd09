import type { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * Each command group lives in its own module under src/cli/ and exports register(program). Add the
 * module here under the top-level command names it registers.
 *
 * Only the module of the command being run is loaded: importing all of them (fastify, Slack, ssh2,
 * openpgp, pg ...) took 0.9 s of the 1.2 s a 1,000-row `preview --against` process took on an idle
 * machine, where `node -e 1` takes 0.1 s (docs/bench.md). Help, an unknown command or no command loads
 * every module, so commander's help and errors list them all.
 */
const MODULES: Record<string, () => Promise<{ register: Register }>> = {
  preview: () => import('./preview.js'),
  ingest: () => import('./ingest.js'),
  baseline: () => import('./baseline.js'),
  runs: () => import('./runs.js'),
  purge: () => import('./purge.js'),
  poll: () => import('./poll.js'),
  start: () => import('./start.js'),
  health: () => import('./start.js'),
  config: () => import('./config-check.js'),
  notify: () => import('./notify.js'),
  tenants: () => import('./tenants.js'),
  keys: () => import('./keys.js'),
  users: () => import('./users.js'),
  serve: () => import('./serve.js'),
};

/** The command ARGS (process.argv without node and the script) name, or null (help, options only, unknown). */
export function commandName(args: readonly string[]): string | null {
  const first = args[0];
  return first !== undefined && Object.hasOwn(MODULES, first) ? first : null;
}

/** Registers the command ARGS names (its module only), or every command. In the order of MODULES either way. */
export async function registerCommands(program: Command, args: readonly string[] = process.argv.slice(2)): Promise<void> {
  const name = commandName(args);
  const loaders = name ? [MODULES[name]!] : [...new Set(Object.values(MODULES))];
  const modules = await Promise.all(loaders.map((load) => load()));
  const registered = new Set<Register>();
  for (const module of modules) {
    if (registered.has(module.register)) continue; // start and health share a module
    registered.add(module.register);
    module.register(program);
  }
}
