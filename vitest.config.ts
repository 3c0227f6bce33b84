import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Process-heavy suites share two cores; keep parallelism modest so timing bounds stay generous.
    maxWorkers: 2,
    // Takes down, at the end of the run, the Vagrant docker-provider machine that tests brought up.
    globalSetup: ['test/harness/vagrant-global-setup.ts'],
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: '.tmp/vitest-report.json' },
  },
});
