/** A small Dockerfile reader for the tests that follow a Dockerfile's steps without a Docker engine. */

export type Instruction =
  | { kind: 'FROM'; image: string; stage: string }
  | { kind: 'WORKDIR'; path: string }
  | { kind: 'COPY'; from?: string; sources: string[]; dest: string }
  | { kind: 'RUN'; command: string }
  | { kind: 'ENV'; vars: Record<string, string> }
  | { kind: 'USER'; user: string }
  | { kind: 'CMD'; argv: string[] }
  | { kind: 'HEALTHCHECK'; argv: string[]; options: string[] }
  | { kind: 'OTHER'; keyword: string; rest: string };

/** Logical lines: comments dropped, backslash continuations joined. */
function logicalLines(text: string): string[] {
  const lines: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (current === '' && /^\s*(#|$)/.test(line)) continue;
    if (current !== '' && /^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1).trim()} `;
      continue;
    }
    lines.push((current + line.trim()).trim());
    current = '';
  }
  if (current.trim()) lines.push(current.trim());
  return lines;
}

function execForm(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return JSON.parse(trimmed) as string[];
  return ['/bin/sh', '-c', trimmed];
}

/** ENV a=b c="d e" (or the legacy ENV a b). */
function envVars(rest: string): Record<string, string> {
  const vars: Record<string, string> = {};
  if (!rest.includes('=')) {
    const [name, ...value] = rest.split(/\s+/);
    vars[name!] = value.join(' ');
    return vars;
  }
  for (const match of rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) vars[match[1]!] = match[3] ?? match[2]!;
  return vars;
}

export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let stageCount = 0;
  for (const line of logicalLines(text)) {
    const [keywordRaw, ...restParts] = line.split(/\s+/);
    const keyword = keywordRaw!.toUpperCase();
    const rest = line.slice(keywordRaw!.length).trim();
    switch (keyword) {
      case 'FROM': {
        const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
        if (!match) throw new Error(`cannot read FROM ${rest}`);
        instructions.push({ kind: 'FROM', image: match[1]!, stage: match[2] ?? String(stageCount) });
        stageCount++;
        break;
      }
      case 'WORKDIR':
        instructions.push({ kind: 'WORKDIR', path: rest });
        break;
      case 'COPY': {
        const parts = restParts.filter((part) => part !== '');
        const flags = parts.filter((part) => part.startsWith('--'));
        const paths = parts.filter((part) => !part.startsWith('--'));
        const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length);
        instructions.push({ kind: 'COPY', ...(from ? { from } : {}), sources: paths.slice(0, -1), dest: paths[paths.length - 1]! });
        break;
      }
      case 'RUN':
        instructions.push({ kind: 'RUN', command: rest });
        break;
      case 'ENV':
        instructions.push({ kind: 'ENV', vars: envVars(rest) });
        break;
      case 'USER':
        instructions.push({ kind: 'USER', user: rest });
        break;
      case 'CMD':
        instructions.push({ kind: 'CMD', argv: execForm(rest) });
        break;
      case 'HEALTHCHECK': {
        const index = rest.search(/\bCMD\b/);
        instructions.push({
          kind: 'HEALTHCHECK',
          options: index > 0 ? rest.slice(0, index).trim().split(/\s+/) : [],
          argv: index >= 0 ? execForm(rest.slice(index + 3)) : [],
        });
        break;
      }
      default:
        instructions.push({ kind: 'OTHER', keyword, rest });
    }
  }
  return instructions;
}

/** .dockerignore: patterns (with `**`, `*`, and `!` exceptions); the last matching pattern decides. */
export function dockerignore(text: string): (file: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const pattern = (negate ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
      const source = pattern
        .split('/')
        .map((segment) => (segment === '**' ? '.*' : segment.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
        .join('/');
      // A pattern naming a folder excludes everything under it.
      return { negate, regex: new RegExp(`^${source}(/.*)?$`) };
    });
  return (file) => {
    let ignored = false;
    for (const rule of rules) if (rule.regex.test(file)) ignored = !rule.negate;
    return ignored;
  };
}
