// Reasons a test skips, said out loud: a skipped test's title is not shown by vitest's default
// reporter, so a machine that lacks sshd, vagrant or BusyBox would otherwise look fully tested.

const said = new Set<string>();

/**
 * Prints `reason` once per test file (on stderr, which vitest shows under the file's name) and
 * returns it. Prints nothing outside vitest (the benchmarks use the same checks and report
 * skips in their own table).
 */
export function sayWhySkipped(reason: string): string {
  if (process.env['VITEST'] !== undefined && !said.has(reason)) {
    said.add(reason);
    console.warn(reason);
  }
  return reason;
}
