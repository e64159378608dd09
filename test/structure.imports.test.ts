import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Which way imports may point in src/ (docs/INTERNALS.md, "Map"): the folders (and root files) in data-flow
 * order, top first. A file may import from its own folder and from any entry BELOW its own, never from
 * one above. A new folder or root file must be placed here before it can be imported or import anything.
 */
const LAYERS = [
  'cli', // src/cli.ts and src/cli/
  'runtime',
  'web',
  'drop',
  'pipeline',
  'preview', // the diff in memory, for previews with nothing stored (writes the output files)
  'notify',
  'output',
  'diff',
  'store',
  'csv',
  'config',
  'fields',
  'heap',
  'metrics',
  'log',
  'types',
  'text', // bounded customer text: imports nothing
] as const;

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');

interface Edge {
  from: string;
  to: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** src-relative path of a file ('diff/run.ts'). */
const rel = (file: string) => path.relative(SRC, file).split(path.sep).join('/');

/** The layer a src file belongs to: its top folder, or a root file's name without .ts. */
function unitOf(relPath: string): string {
  const [first, ...rest] = relPath.split('/');
  return rest.length > 0 ? first! : first!.replace(/\.ts$/, '');
}

/** Every relative import of FILE (static, `import type`, `export ... from`, side-effect, dynamic), as src-relative paths. */
function importsOf(file: string, text = readFileSync(file, 'utf8')): string[] {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles
    .map((ref) => ref.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => rel(path.resolve(path.dirname(file), name.replace(/\.js$/, '.ts'))));
}

function importGraph(): Edge[] {
  return sourceFiles(SRC).flatMap((file) => importsOf(file).map((to) => ({ from: rel(file), to })));
}

/** Imports that point up the layers (or into / out of a folder not in LAYERS). */
function wrongWay(edges: Edge[]): string[] {
  const rank = new Map<string, number>(LAYERS.map((name, i) => [name, i]));
  const problems: string[] = [];
  for (const { from, to } of edges) {
    const a = unitOf(from);
    const b = unitOf(to);
    if (a === b) continue;
    const ra = rank.get(a);
    const rb = rank.get(b);
    if (ra === undefined || rb === undefined) {
      problems.push(`src/${from} imports src/${to}: "${ra === undefined ? a : b}" is not in LAYERS (test/structure.imports.test.ts); place it there`);
    } else if (rb < ra) {
      problems.push(`src/${from} imports src/${to}: ${a} may not import ${b} (${b} is above ${a} in LAYERS)`);
    }
  }
  return problems;
}

/** Every import circle among the files, each as the file path round the circle. */
function circles(edges: Edge[]): string[] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), to]);
  // Tarjan's strongly connected components: a component of more than one file (or a file importing itself) is a circle.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const target of next.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (next.get(node) ?? []).includes(node)) found.push(component.sort().map((f) => `src/${f}`).join(' <-> '));
  };
  for (const node of [...next.keys()].sort()) if (!index.has(node)) visit(node);
  return found;
}

describe('structure: imports point one way', () => {
  const edges = importGraph();

  it('reads the imports of src/ (the test sees them)', () => {
    expect(edges.length).toBeGreaterThan(100);
    expect(edges).toContainEqual({ from: 'pipeline.ts', to: 'diff/run.ts' });
    expect(edges).toContainEqual({ from: 'pipeline.ts', to: 'heap.ts' }); // side-effect import
    expect(edges).toContainEqual({ from: 'drop/archive.ts', to: 'output/render.ts' }); // dynamic import
  });

  it('every import points down LAYERS', () => {
    expect(wrongWay(edges)).toEqual([]);
  });

  it('no import circle among the files of src/', () => {
    expect(circles(edges)).toEqual([]);
  });

  it('catches an upward import, a folder not in LAYERS, and a circle', () => {
    const store = importsOf(path.join(SRC, 'store', 'runs.ts'), `import type { DiffCounts } from '../diff/diff.js';`);
    expect(wrongWay([{ from: 'store/runs.ts', to: store[0]! }])).toEqual([
      'src/store/runs.ts imports src/diff/diff.ts: store may not import diff (diff is above store in LAYERS)',
    ]);
    expect(wrongWay([{ from: 'attic/x.ts', to: 'log.ts' }])[0]).toContain('"attic" is not in LAYERS');
    expect(
      circles([
        { from: 'diff/stage.ts', to: 'diff/filter.ts' },
        { from: 'diff/filter.ts', to: 'diff/diff.ts' },
        { from: 'diff/diff.ts', to: 'diff/stage.ts' },
        { from: 'diff/run.ts', to: 'diff/stage.ts' },
      ]),
    ).toEqual(['src/diff/diff.ts <-> src/diff/filter.ts <-> src/diff/stage.ts']);
  });
});
