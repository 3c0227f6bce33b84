// One token per `vitest run`, set by the global setups in the main process and inherited by the
// workers, so a daemon a harness starts is marked with the run that started it. The end of a run
// stops only what carries its own token: two runs at once (a developer's and CI's) never take
// down each other's cluster or dockerd.
import { randomUUID } from 'node:crypto';

/** The token of this test run (created by the first global setup that asks). */
export function runToken(): string {
  process.env['BGEXEC_TEST_RUN'] ??= randomUUID();
  return process.env['BGEXEC_TEST_RUN'];
}
