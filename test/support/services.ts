/**
 * Tests that need an outside service (PostgreSQL server, sshd, Chromium) call requireService.
 * On a laptop without the service the test is skipped with a printed reason; under CI=true
 * nothing may skip, so a missing service fails the run.
 */
export function serviceMissing(name: string, reason: string): boolean {
  const message = `${name} unavailable: ${reason}`;
  if (process.env.CI === 'true') {
    throw new Error(`${message} (CI=true: required services must be installed and running; see .ci/run)`);
  }
  console.warn(`SKIP: ${message}`);
  return true;
}
