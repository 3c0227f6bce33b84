import type { ContractOutcome } from './_contract.js';

/** A POSIX single-quoted literal. */
export const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The /bin/sh command line that behaves as `o` describes. */
export function shellFor(o: ContractOutcome): string {
  const parts: string[] = [];
  // Ignored (not caught) dispositions are inherited by `sleep`, so the whole group ignores TERM.
  if (o.ignoreTerm) parts.push(`trap '' TERM`);
  if (o.stdout !== undefined) parts.push(`printf '%s' ${q(o.stdout)}`);
  if (o.stderr !== undefined) parts.push(`printf '%s' ${q(o.stderr)} >&2`);
  if (o.echoEnv !== undefined) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(o.echoEnv)) throw new Error(`bad variable name ${o.echoEnv}`);
    // Prefix marks "set", so an unset variable is told apart from an empty one.
    parts.push(`if [ -n "\${${o.echoEnv}+x}" ]; then printf 'env=%s' "$${o.echoEnv}"; fi`);
  }
  if (o.hang) parts.push('sleep 120');
  else if (o.durationMs !== undefined) parts.push(`sleep ${(o.durationMs / 1000).toFixed(3)}`);
  parts.push(`exit ${o.exitCode ?? 0}`);
  return parts.join('; ');
}

