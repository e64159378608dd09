import type { z } from 'zod';

/** A configuration problem: names the file, the path inside it and what is expected. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: { path: string; message: string }[],
  ) {
    super(
      `invalid configuration in ${file}:\n` +
        problems.map((p) => `  - ${p.path || '(top level)'}: ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }

  static fromZod(file: string, error: z.ZodError): ConfigError {
    return new ConfigError(
      file,
      error.issues.map((issue) => ({
        path: issue.path.map(String).join('.'),
        message: issue.message,
      })),
    );
  }
}
