import type { Command } from 'commander';
import { recordAudit } from '../store/console-audit.js';
import { listUsers, removeUser, ROLES, upsertUser, type Role } from '../store/console-users.js';
import { hashPassword } from '../web/passwords.js';
import { cliActor, EXIT, loadCliContext, UsageError, withDatabase } from './context.js';

const MIN_PASSWORD = 12;

/** `hris-ingest users add NAME --role R | list [--json] | remove NAME`: the web console's built-in users. */
export function register(program: Command): void {
  const users = program.command('users').description("the web console's users (built-in sign-in)");

  users
    .command('add')
    .description('add a user, or set the role and password of an existing one; the password is read from stdin, or prompted on a terminal')
    .argument('<name>', 'sign-in name')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .action(async (name: string, options: { role: string }) => {
      const role = ROLES.find((r) => r === options.role);
      if (!role) throw new UsageError(`unknown role "${options.role}": use ${ROLES.join(', ')}`);
      if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) throw new UsageError('a user name is 1-64 letters, digits, ".", "_", "@" or "-"');
      const password = process.stdin.isTTY ? await promptPassword() : await readStdinPassword();
      if (password.length < MIN_PASSWORD) throw new UsageError(`the password must have at least ${MIN_PASSWORD} characters`);
      const ctx = await loadCliContext();
      const passwordHash = await hashPassword(password);
      const added = await withDatabase(ctx.app, async (db) => {
        const created = await upsertUser(db.pool, { name, role: role as Role, passwordHash });
        await recordAudit(db.pool, { actor: cliActor(), action: 'user-add', detail: `${name} (${role})${created ? '' : ', role and password replaced'}` });
        return created;
      });
      console.log(`${added ? 'added' : 'updated'} ${name} (${role})`);
      process.exitCode = EXIT.ok;
    });

  users
    .command('list')
    .description('the users and their roles')
    .option('--json', 'print one JSON object on the last line of stdout')
    .action(async (options: { json?: boolean }) => {
      const ctx = await loadCliContext();
      const list = await withDatabase(ctx.app, (db) => listUsers(db.pool));
      const rows = list.map((u) => ({ name: u.name, role: u.role, createdAt: u.createdAt.toISOString() }));
      if (options.json) console.log(JSON.stringify({ users: rows }));
      else console.log(rows.length === 0 ? 'no users' : rows.map((u) => `${u.name.padEnd(24)} ${u.role.padEnd(9)} ${u.createdAt.slice(0, 10)}`).join('\n'));
      process.exitCode = EXIT.ok;
    });

  users
    .command('remove')
    .description('remove a user (their sessions end at once)')
    .argument('<name>', 'sign-in name')
    .action(async (name: string) => {
      const ctx = await loadCliContext();
      const removed = await withDatabase(ctx.app, async (db) => {
        const gone = await removeUser(db.pool, name);
        if (gone) await recordAudit(db.pool, { actor: cliActor(), action: 'user-remove', detail: name });
        return gone;
      });
      if (!removed) throw new UsageError(`no user "${name}"`);
      console.log(`removed ${name}`);
      process.exitCode = EXIT.ok;
    });
}

/** The first line of stdin (a pipe or a file): `printf '%s\n' "$PW" | hris-ingest users add ...`. */
async function readStdinPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > 4096) break;
  }
  return (Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '');
}

/** Asks twice on the terminal without echoing. */
async function promptPassword(): Promise<string> {
  const first = await readHidden('Password: ');
  const second = await readHidden('Again: ');
  if (first !== second) throw new UsageError('the two passwords differ');
  return first;
}

function readHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    let value = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const onData = (text: string) => {
      for (const ch of text) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(new UsageError('cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}
