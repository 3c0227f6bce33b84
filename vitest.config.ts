import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // At the end of a run, stops what its tests started: the test Slurm cluster
    // (test/harness/slurm-up.sh) and the Vagrant docker-provider machines (test/harness/vagrant-docker.sh).
    globalSetup: ['test/harness/slurm-global.ts', 'test/harness/vagrant-global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Process-heavy suites share two cores; keep parallelism modest so timing bounds stay generous.
    maxWorkers: 2,
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: '.tmp/vitest-report.json' },
  },
});
