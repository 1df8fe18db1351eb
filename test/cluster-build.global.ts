import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { binaryPaths, missingBinaries } from '../dev/cluster/binaries.ts';

const BUILD = fileURLToPath(new URL('../dev/cluster/build.sh', import.meta.url));

/** File filters on the vitest command line, e.g. `vitest run test/cli.test.ts`. */
function fileFilters(argv: string[]): string[] {
  const run = argv.findIndex((a) => a === 'run' || a === 'watch');
  return argv.slice(run + 1).filter((a) => !a.startsWith('-'));
}

/**
 * `npm test` gets what test/cluster/ needs by itself: when those tests are part of the run and the
 * pinned control plane is not in the cache yet, it is built once (cold about 5 minutes on 2 cores),
 * with the build's own progress on the terminal. A failed build leaves the tests to fail, each naming it.
 */
export default function setup(): void {
  if (process.env.PETREL_CLUSTER_TESTS === '0') return;
  const filters = fileFilters(process.argv);
  if (filters.length > 0 && !filters.some((f) => f.includes('cluster'))) return;
  if (missingBinaries(binaryPaths()).length === 0) return;
  console.log('test/cluster/ needs the real control plane: building it once (npm run cluster:build)');
  spawnSync('bash', [BUILD], { stdio: 'inherit' });
}
