import type { AppConfig } from '../config/app.js';
import { recordAudit } from '../store/console-audit.js';
import { insertFirstUser } from '../store/console-users.js';
import type { Queryable } from '../store/db.js';
import { hashPassword, oneTimePassword } from './passwords.js';

/**
 * On a console with built-in users and none yet: creates the first operator (http.console.firstOperator)
 * with a random password, returned once to be printed. Null when a user exists or sign-in is by proxy.
 */
export async function ensureFirstOperator(db: Queryable, app: AppConfig): Promise<{ name: string; password: string } | null> {
  if (app.http.console.auth !== 'users') return null;
  const name = app.http.console.firstOperator;
  const password = oneTimePassword();
  const created = await insertFirstUser(db, { name, role: 'operator', passwordHash: await hashPassword(password) });
  if (!created) return null;
  await recordAudit(db, { actor: null, action: 'user-add', detail: `${name} (operator), the first operator, created on first start` });
  return { name, password };
}
