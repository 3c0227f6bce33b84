/**
 * The Slurm transport (`bgexec/slurm`): runs tasks as Slurm batch jobs from a login node, on the
 * same job protocol as the local transport, with run directories in a shared directory.
 * @module bgexec/slurm
 */
export { SlurmTransport } from './transports/slurm/slurm-transport.js';
export type { SlurmTransportOptions } from './transports/slurm/options.js';
export { SlurmError, type SlurmFailureReason } from './transports/slurm/errors.js';
