import { Buffer } from 'node:buffer';
import type { OutputStream } from '../transports/types.js';

/**
 * A running fake attempt, as the input hooks of a `FakeOutcome` see it: what it was sent, and
 * how it answers.
 */
export interface FakeTask {
  /** The task's id. */
  readonly taskId: string;
  /** The attempt's number. */
  readonly attempt: number;
  /** Every byte of input the attempt received so far (a copy). */
  readonly input: Buffer;
  /** Its input was closed (end-of-file reached). */
  readonly inputClosed: boolean;
  /** The attempt has ended. */
  readonly ended: boolean;
  /** Appends output (on a `tty` attempt, stderr goes to stdout, as on a terminal). */
  write(stream: OutputStream, data: string | Uint8Array): void;
  /** Ends the attempt with this exit code (default 0); a no-op once it ended. */
  exit(code?: number): void;
  /** Sets what `poll()` reports as `awaitingInput` (default true). */
  awaitInput(on?: boolean): void;
}

/** Called with each chunk written to a fake attempt's stdin; a returned promise holds the write until it settles. */
export type FakeInputHandler = (chunk: Buffer, task: FakeTask) => void | Promise<void>;

/** What a fake attempt was sent on its stdin, from `FakeTransport.input()`. */
export interface FakeInput {
  /** Every byte received, in order. */
  data: Buffer;
  /** The same bytes as UTF-8 text. */
  text: string;
  /** Each write as it came (input given up front is one chunk). */
  chunks: Buffer[];
  /** The input reached end-of-file. */
  closed: boolean;
}

/** The input hooks of a `FakeOutcome`. */
export interface FakeInputHooks {
  onInput?: FakeInputHandler;
  onLine?: (line: string, task: FakeTask) => void;
  onEof?: (task: FakeTask) => void;
}

/** The input side of one fake attempt: what it received, and the hooks it feeds, in order. */
export class FakeStdin {
  readonly chunks: Buffer[] = [];
  closed = false;
  readonly #hooks: FakeInputHooks;
  readonly #task: FakeTask;
  // Text after the last newline, for onLine.
  #partial = '';

  constructor(hooks: FakeInputHooks, task: FakeTask) {
    this.#hooks = hooks;
    this.#task = task;
  }

  /** Records a chunk and hands it to `onInput` (awaited), then its complete lines to `onLine`. */
  async deliver(chunk: Buffer): Promise<void> {
    this.chunks.push(chunk);
    const { onInput, onLine } = this.#hooks;
    if (onInput) await onInput(Buffer.from(chunk), this.#task);
    if (!onLine) return;
    const lines = (this.#partial + chunk.toString('utf8')).split('\n');
    this.#partial = lines.pop()!;
    for (const line of lines) {
      if (this.#task.ended) return;
      onLine(line, this.#task);
    }
  }

  /** End-of-file: a last partial line to `onLine`, then `onEof`; once, and not after the attempt ended. */
  eof(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.#task.ended) return;
    if (this.#partial !== '' && this.#hooks.onLine) {
      const last = this.#partial;
      this.#partial = '';
      this.#hooks.onLine(last, this.#task);
    }
    if (!this.#task.ended) this.#hooks.onEof?.(this.#task);
  }

  /** What was received so far (copies). */
  snapshot(): FakeInput {
    const data = Buffer.concat(this.chunks);
    return { data, text: data.toString('utf8'), chunks: this.chunks.map((c) => Buffer.from(c)), closed: this.closed };
  }
}
