import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The rollout core is pure: it may import from src/api/ and src/lib/ only, never from a folder that does
// I/O, and no package (a pure library may be added here on purpose).

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const ROLLOUT = join(SRC, 'rollout');
const ALLOWED = ['rollout', 'api', 'lib'];
/** Pure computation, no I/O: croner evaluates cron expressions in a time zone for release windows. */
const ALLOWED_PACKAGES = ['croner'];
const IMPORT = /(?:^|\s)(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('src/rollout imports', () => {
  it('come only from src/rollout, src/api and src/lib', () => {
    const offending: string[] = [];
    for (const file of sources(ROLLOUT)) {
      for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const spec = (match[1] ?? match[2]) as string;
        const folder = spec.startsWith('.')
          ? relative(SRC, resolve(dirname(file), spec)).split('/')[0]
          : undefined;
        if (!folder && ALLOWED_PACKAGES.includes(spec)) continue;
        if (!folder || !ALLOWED.includes(folder)) offending.push(`${relative(SRC, file)} imports ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });
});
