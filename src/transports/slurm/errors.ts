import { TransportError } from '../../errors.js';

/**
 * Why a Slurm client command could not be used, for programs to branch on:
 * - `slurm_not_installed`: the program (`sbatch`, `squeue`, `scancel`, `sacct`) is not in the
 *   transport's `binDir`, or not on the `PATH` it searched, or cannot be executed there.
 */
export type SlurmFailureReason = 'slurm_not_installed';

/**
 * A Slurm client command could not be run (code `TRANSPORT_FAILED`: the setup is wrong, retrying
 * changes nothing). `reason` says why, `program` names the command and `searched` the
 * directories looked in (`binDir`, or the `PATH` the command was run with); the message says
 * all three. A task whose start failed this way records the error, `reason` included, and its
 * attempt ends with that reason.
 */
export class SlurmError extends TransportError {
  /** Why it failed; branch on this. */
  readonly reason: SlurmFailureReason;
  /** The Slurm command that could not be run (`sbatch`, `squeue`, …). */
  readonly program: string;
  /** The directories searched for it, in order. */
  readonly searched: readonly string[];

  constructor(reason: SlurmFailureReason, program: string, searched: readonly string[], message: string, options: { cause?: unknown; taskId?: string } = {}) {
    super('TRANSPORT_FAILED', message, options);
    this.reason = reason;
    this.program = program;
    this.searched = searched;
  }
}
