// A real Vagrant machine for the tests, through Vagrant's docker provider: test/harness/
// vagrant-docker.sh builds the Debian image (once; cached), starts a private dockerd and brings
// the project's machines up, under a lock, so test files in parallel workers share one setup.
// The vitest global teardown (vagrant-global-setup.ts) takes it all down again.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { VagrantTransportOptions } from '../../src/transports/vagrant.js';
import { sayWhySkipped } from './skip.js';
import { which } from './sshd.js';

/** The harness script (bash). */
export const VAGRANT_DOCKER_SCRIPT = fileURLToPath(new URL('./vagrant-docker.sh', import.meta.url));

/** The two projects of the harness: `shared` (machines `one`, `two`) and `life` (machine `default`). */
export type VagrantDockerProject = 'shared' | 'life';

/** Why the docker-provider tests cannot run here, or undefined when they can. */
export function vagrantDockerUnavailable(): string | undefined {
  if (process.platform !== 'linux') return sayWhySkipped('skipped: the Vagrant docker-provider machine needs Linux');
  if (process.env['BGEXEC_SKIP_VAGRANT_DOCKER'] === '1') return sayWhySkipped('skipped: BGEXEC_SKIP_VAGRANT_DOCKER=1');
  // As root the harness installs what is missing (vagrant, docker.io, debootstrap); otherwise they must be there.
  if (process.getuid?.() !== 0) {
    const missing = ['vagrant', 'docker', 'dockerd', 'debootstrap'].filter((b) => which(b, ['/usr/sbin', '/usr/bin']) === undefined);
    return sayWhySkipped(`skipped: the Vagrant docker-provider machine needs root (dockerd, debootstrap)${missing.length ? `; missing: ${missing.join(', ')}` : ''}`);
  }
  return undefined;
}

/** A project whose machines are up. */
export interface VagrantDockerMachines {
  /** Directory of the project's Vagrantfile. */
  readonly cwd: string;
  /** Environment every vagrant process needs (VAGRANT_HOME, DOCKER_HOST, PATH with Debian's docker first). */
  readonly env: Readonly<Record<string, string>>;
  /** Options for a VagrantTransport on `machine`. */
  options(machine: string, extra?: Partial<VagrantTransportOptions>): VagrantTransportOptions;
  /** Runs `vagrant <args>` in the project (again while vagrant says the machine is locked); resolves with stdout, rejects with stderr in the message. */
  vagrant(args: readonly string[], timeoutMs?: number): Promise<string>;
}

function run(file: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { cwd: options.cwd, env: options.env, timeout: options.timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const harnessEnv = (): NodeJS.ProcessEnv => ({ ...process.env, VAGRANT_CHECKPOINT_DISABLE: '1', VAGRANT_NO_COLOR: '1' });

/**
 * Brings `project` up (image built if missing, dockerd started if not running, `vagrant up` of
 * its machines) and describes it. Minutes the first time (debootstrap), seconds afterwards.
 */
export async function vagrantDockerUp(project: VagrantDockerProject): Promise<VagrantDockerMachines> {
  const out = await run('bash', [VAGRANT_DOCKER_SCRIPT, 'up', project], { env: harnessEnv(), timeoutMs: 600_000 });
  const kv = new Map<string, string>();
  for (const line of out.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) kv.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const cwd = kv.get('cwd');
  if (cwd === undefined) throw new Error(`vagrant-docker.sh up ${project} printed no cwd:\n${out}`);
  const env: Record<string, string> = {
    VAGRANT_HOME: kv.get('VAGRANT_HOME') ?? '',
    DOCKER_HOST: kv.get('DOCKER_HOST') ?? '',
    PATH: kv.get('PATH') ?? '',
    VAGRANT_CHECKPOINT_DISABLE: '1',
    VAGRANT_NO_COLOR: '1',
    VAGRANT_DEFAULT_PROVIDER: 'docker',
  };
  return {
    cwd,
    env,
    options: (machine, extra = {}) => ({ cwd, machine, env, pollIntervalMs: 25, maxPollIntervalMs: 200, ...extra }),
    vagrant: async (args, timeoutMs = 300_000) => {
      // A transport's `vagrant status` briefly locks the machine's index entry; a command that
      // runs into it fails with "locked" at once and is simply run again.
      for (let i = 1; ; i++) {
        try {
          return await run('vagrant', args, { cwd, env: { ...process.env, ...env }, timeoutMs });
        } catch (err) {
          if (i >= 10 || !/is locked|already executing an action on the machine/.test(String(err))) throw err;
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
    },
  };
}
