import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

/** Relative imports of one file, as repository paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => path.normalize(path.join(path.dirname(file), m[1] as string)));
}

/** `src/rollout/decide.ts` -> `rollout`; files outside src/ -> their top folder (`dev`, `test`, ...). */
function folderOf(file: string): string {
  const parts = file.split(path.sep);
  return parts[0] === 'src' ? (parts.length > 2 ? (parts[1] as string) : '.') : (parts[0] as string);
}

function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles('src')) {
    const from = folderOf(file);
    for (const target of importsOf(file)) {
      const to = folderOf(target);
      if (to === from) continue;
      const edges = graph.get(from) ?? new Map<string, string>();
      if (!edges.has(to)) edges.set(to, `${file} -> ${target}`);
      graph.set(from, edges);
    }
  }
  return graph;
}

/** Every cycle between folders, each as the chain of imports that closes it. */
function cycles(graph: Map<string, Map<string, string>>): string[][] {
  const found: string[][] = [];
  const seen = new Set<string>();
  const walk = (node: string, trail: string[], via: string[]): void => {
    for (const [next, example] of graph.get(node) ?? []) {
      const at = trail.indexOf(next);
      if (at >= 0) {
        const key = [...trail.slice(at)].sort().join(',');
        if (!seen.has(key)) {
          seen.add(key);
          found.push([...via.slice(at), example]);
        }
        continue;
      }
      walk(next, [...trail, next], [...via, example]);
    }
  };
  for (const start of graph.keys()) walk(start, [start], []);
  return found;
}

describe('the shape of src/', () => {
  const graph = folderGraph();

  it('has no import cycle between folders', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('keeps the rollout core pure: rollout/ imports only api/ and lib/', () => {
    const outside = [...(graph.get('rollout') ?? [])].filter(([to]) => to !== 'api' && to !== 'lib');
    expect(outside.map(([, example]) => example)).toEqual([]);
  });

  it('keeps lib/ free of the rest of the product', () => {
    expect([...(graph.get('lib') ?? [])].map(([, example]) => example)).toEqual([]);
  });

  it('ships nothing from the development tools, tests or benchmarks', () => {
    const leaks = [...graph].flatMap(([, edges]) =>
      [...edges].filter(([to]) => ['dev', 'test', 'bench'].includes(to)).map(([, example]) => example),
    );
    expect(leaks).toEqual([]);
  });

  it('ships with exactly the runtime dependencies src/ imports (dev tools and tsx stay dev dependencies)', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const bare = /(?:\bfrom\s+|\bimport\s*\(\s*)['"]([^./'"][^'"]*)['"]/g;
    const used = new Set<string>();
    for (const file of sourceFiles('src')) {
      for (const m of readFileSync(path.join(ROOT, file), 'utf8').matchAll(bare)) {
        const spec = m[1] as string;
        if (spec.startsWith('node:')) continue;
        used.add(
          spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string),
        );
      }
    }
    expect([...used].sort()).toEqual(Object.keys(pkg.dependencies).sort());
  });

  it('keeps every file under src/ at 400 lines or fewer', () => {
    const long = sourceFiles('src')
      .map((file) => ({ file, lines: readFileSync(path.join(ROOT, file), 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > 400);
    expect(long).toEqual([]);
  });

  it('sees a planted cycle (the check itself works)', () => {
    const planted = new Map([
      ['a', new Map([['b', 'a.ts -> b.ts']])],
      ['b', new Map([['c', 'b.ts -> c.ts']])],
      ['c', new Map([['a', 'c.ts -> a.ts']])],
    ]);
    expect(cycles(planted)).toEqual([['a.ts -> b.ts', 'b.ts -> c.ts', 'c.ts -> a.ts']]);
  });
});
