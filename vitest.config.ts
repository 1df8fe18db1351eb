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
    reporters: reportFile ? ['default', ['json', { outputFile: reportFile }]] : ['default'],
  },
});
