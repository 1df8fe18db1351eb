import { defineConfig } from 'vitest/config';

// CI asks for a machine-readable report next to the usual output, to print its own summary line.
const reportFile = process.env.PETREL_TEST_REPORT;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/cluster/ runs against a real control plane (npm run cluster:build); =0 leaves it out.
    exclude:
      process.env.PETREL_CLUSTER_TESTS === '0'
        ? ['**/node_modules/**', 'test/cluster/**']
        : ['**/node_modules/**'],
    globalSetup: ['test/cluster-build.global.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most test files wait on timers and child processes rather than compute: two at a time keeps both
    // cores busy (the default, one fewer than the cores, runs one file at a time on a 2-core machine).
    maxWorkers: 2,
    reporters: reportFile ? ['default', ['json', { outputFile: reportFile }]] : ['default'],
  },
});
