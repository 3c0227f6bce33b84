/**
 * The SSH transport (`bgexec/ssh`): runs tasks on remote hosts over the system OpenSSH client,
 * on the same job protocol as the local transport.
 * @module bgexec/ssh
 */
export { SshTransport, type SshTransportOptions } from './transports/ssh/ssh-transport.js';
export type { SshConnectionOptions } from './transports/ssh/ssh-client.js';
export type { SshJob } from './transports/ssh/discovery.js';
