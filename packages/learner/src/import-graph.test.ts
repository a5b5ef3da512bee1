import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const sourceRoot = dirname(fileURLToPath(import.meta.url));

/** Every non-test TypeScript source under `root`. */
function sources(root: string): string[] {
  return readdirSync(root, { withFileTypes: true }).flatMap((entry) => {
    const path = join(root, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The relative imports (and re-exports, type-only ones included) of each file, as absolute `.ts` paths. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, false);
    graph.set(
      file,
      importedFiles
        .map((imported) => imported.fileName)
        .filter((name) => name.startsWith('.'))
        .map((name) => resolve(dirname(file), name.replace(/\.js$/, '.ts')))
    );
  }
  return graph;
}

/** Every import cycle, each as the list of files from one back to itself (depth-first search, one per back edge). */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

describe('the import graph of packages/learner/src', () => {
  it('has no cycle: every import points down, type-only imports included', () => {
    const graph = importGraph(sources(sourceRoot));
    const cycles = findCycles(graph).map((cycle) => cycle.map((file) => relative(sourceRoot, file)).join(' → '));
    expect(cycles).toEqual([]);
  });

  it('finds a cycle when there is one (the check can fail)', () => {
    const graph = new Map([
      ['context.ts', ['learner.ts']],
      ['learner.ts', ['fit-run.ts']],
      ['fit-run.ts', ['context.ts', 'events.ts']],
      ['events.ts', []],
    ]);
    expect(findCycles(graph)).toEqual([['context.ts', 'learner.ts', 'fit-run.ts', 'context.ts']]);
  });

  it('resolves imports and re-exports of every kind', () => {
    const graph = importGraph([join(sourceRoot, 'index.ts')]);
    const targets = graph.get(join(sourceRoot, 'index.ts'))!.map((file) => relative(sourceRoot, file));
    expect(targets).toContain('learner.ts');
    expect(targets).toContain('loop-types.ts'); // an `export type { … } from` line
  });
});
