/**
 * `bgexec/slurm`: run tasks as Slurm batch jobs from a login node. See docs/transports.md, "Slurm".
 * @packageDocumentation
 */
export { SlurmTransport } from './transports/slurm/slurm-transport.js';
export type { SlurmTransportOptions } from './transports/slurm/options.js';
