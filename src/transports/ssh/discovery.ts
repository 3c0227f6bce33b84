import { InvalidArgumentError, TransportError } from '../../errors.js';
import type { TransportHandle } from '../../task.js';
import { isValidAttempt, isValidId } from '../job-protocol/quote.js';
import type { ExitInfo } from '../types.js';
import { decideState } from './attempt.js';
import { handleFromProbe, leafOf } from './handles.js';
import { buildListScript, buildProbeScript } from './remote-scripts.js';
import { parseCompleteReply, type ReplyItem } from './reply.js';
import type { SshClient } from './ssh-client.js';

/** One attempt found under the remote root by `list()`. */
export interface SshJob {
  /** A handle for the attempt, usable with the transport's other methods (e.g. to re-attach). */
  handle: TransportHandle;
  /** Whether it still runs, has ended with a known status, or vanished. */
  state: 'running' | 'exited' | 'lost';
  /** Present when `state` is not `running`. */
  exit?: ExitInfo;
  /** Bytes written to stdout so far. */
  stdoutBytes: number;
  /** Bytes written to stderr so far. */
  stderrBytes: number;
}

interface Pending {
  leaf: string;
  resolve: (h: TransportHandle | undefined) => void;
  reject: (err: unknown) => void;
}

/**
 * Finds attempts on the host: `probe()` calls made in the same turn of the event loop share
 * one round trip (recovery probes many at once), `list()` walks the whole root in one. Also
 * remembers the remote root once a reply has resolved it.
 */
export class SshDiscovery {
  private resolvedRoot: string | undefined;
  private batch: Pending[] | undefined;

  constructor(
    private readonly client: SshClient,
    private readonly kind: string,
    private readonly host: string,
    private readonly rootOption: string | undefined,
  ) {}

  /** The root to hand to scripts: resolved if known, else the option (undefined: the default). */
  get root(): string | undefined {
    return this.resolvedRoot ?? this.rootOption;
  }

  /** Records the root a remote script resolved (absolute) and returns it. */
  learnRoot(root: string): string {
    this.resolvedRoot ??= root;
    return this.resolvedRoot;
  }

  probe(taskId: string, attempt: number): Promise<TransportHandle | undefined> {
    if (!isValidId(taskId) || !isValidAttempt(attempt)) {
      return Promise.reject(new InvalidArgumentError('taskId', 'invalid task id or attempt'));
    }
    return new Promise((resolve, reject) => {
      if (this.batch === undefined) {
        this.batch = [];
        setImmediate(() => void this.flush());
      }
      this.batch.push({ leaf: leafOf(taskId, attempt), resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.batch ?? [];
    this.batch = undefined;
    try {
      const leaves = [...new Set(batch.map((p) => p.leaf))];
      const items = parseCompleteReply(await this.client.run(buildProbeScript(this.root, leaves)));
      const { root, bootId } = this.header(items);
      const found = new Map<string, TransportHandle>();
      for (const item of items) {
        if (item.t !== 'P' || !item.found) continue;
        const h = handleFromProbe(this.kind, this.host, root, item, bootId);
        if (h) found.set(item.leaf, h);
      }
      for (const p of batch) p.resolve(found.get(p.leaf));
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }

  async list(): Promise<SshJob[]> {
    const items = parseCompleteReply(await this.client.run(buildListScript(this.root)));
    const { root, bootId } = this.header(items);
    const jobs = new Map<string, SshJob>();
    const now = Date.now();
    for (const item of items) {
      if (item.t === 'P' && item.found) {
        const handle = handleFromProbe(this.kind, this.host, root, item, bootId);
        if (handle) jobs.set(item.leaf, { handle, state: 'running', stdoutBytes: 0, stderrBytes: 0 });
      }
      const job = 'leaf' in item ? jobs.get(item.leaf) : undefined;
      if (job === undefined) continue;
      if (item.t === 'J') {
        const exit = decideState(item, job.handle, bootId, now);
        if (exit) Object.assign(job, { state: exit.state, exit });
      } else if (item.t === 'S') Object.assign(job, { stdoutBytes: item.out, stderrBytes: item.err });
    }
    return [...jobs.values()];
  }

  private header(items: readonly ReplyItem[]): { root: string; bootId: string | undefined } {
    let root: string | undefined;
    let bootId: string | undefined;
    for (const item of items) {
      if (item.t === 'R') root = this.learnRoot(item.root);
      if (item.t === 'B') bootId = item.bootId;
    }
    if (root === undefined) throw new TransportError('TRANSPORT_FAILED', `${this.host} did not report its remote root`);
    return { root, bootId };
  }
}
