/**
 * The Vagrant transport (`bgexec/vagrant`): runs tasks inside a Vagrant machine through its
 * SSH connection, asking vagrant for that connection once.
 * @module bgexec/vagrant
 */
export { VagrantError, VagrantTransport, type VagrantFailureReason, type VagrantTransportOptions } from './transports/vagrant.js';
export { SshTransport, type SshTransportOptions } from './transports/ssh/ssh-transport.js';
export type { SshConnectionOptions } from './transports/ssh/ssh-client.js';
export type { SshJob } from './transports/ssh/discovery.js';
