// Secrets: values given in `secretEnv` reach the process, but never the store, a run directory,
// an event, an error or a log line. The command proves it sees the value by comparing its
// SHA-256 (so the command text itself carries no secret), and prints only a non-secret canary,
// which the scan must find — a positive control, so that "not found" means something.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import type { ExecutorEventName } from '../../src/events.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import type { TaskSpec } from '../../src/task.js';
import { caught, onCleanup, runCleanups, tempDir, walkFiles } from './_util.js';

afterEach(runCleanups);

const EVENTS: ExecutorEventName[] = [
  'task:queued', 'task:started', 'task:output', 'task:retrying', 'task:completed', 'task:failed', 'task:cancelled',
  'task:timed_out', 'task:lost', 'task:settled', 'idle', 'error',
];

describe('secretEnv', () => {
  it('reaches the process and nothing else: store, run dirs, events, errors, logs', async () => {
    const secret = `s3cr3t${randomBytes(16).toString('hex')}`;
    const canary = `canary${randomBytes(8).toString('hex')}`;
    const sha = createHash('sha256').update(secret).digest('hex');
    // Exit 9 if the secret did not arrive; otherwise behave as `then`.
    const sees = (then: string): string => `[ "$(printf %s "$API_TOKEN" | sha256sum | cut -c1-64)" = '${sha}' ] || exit 9; ${then}`;

    const dir = tempDir();
    const captured: string[] = [];
    const logger = {
      debug: (...a: unknown[]) => void captured.push(`debug ${a.map(String).join(' ')}`),
      info: (...a: unknown[]) => void captured.push(`info ${a.map(String).join(' ')}`),
      warn: (...a: unknown[]) => void captured.push(`warn ${a.map(String).join(' ')}`),
      error: (...a: unknown[]) => void captured.push(`error ${a.map(String).join(' ')}`),
    };
    const ex = new BackgroundExecutor({
      store: new JsonDirStore({ dir }),
      scheduler: new PriorityScheduler({ concurrency: 4 }),
      logger,
      outputPollMs: 10,
    });
    onCleanup(() => ex.shutdown({ graceMs: 100 }));
    const listen = ex.on.bind(ex) as unknown as (n: string, fn: (p: unknown) => void) => void;
    for (const name of EVENTS) {
      listen(name, (payload) => {
        const p = payload as { error?: Error };
        // Errors do not stringify their message, cause or stack by default: add them.
        captured.push(`${name} ${JSON.stringify(payload)} ${p.error ? `${p.error.message} ${String(p.error.stack)} ${String(p.error.cause)}` : ''}`);
      });
    }
    const secretEnv = { API_TOKEN: secret };
    const specs: Record<string, TaskSpec> = {
      plain: { command: sees(`echo ${canary}`), secretEnv },
      detached: { command: sees(`echo ${canary} >&2`), secretEnv, detached: true },
      retried: { command: sees('[ "$BGEXEC_ATTEMPT" -ge 2 ] || exit 1'), secretEnv, retry: { attempts: 2 } },
      cancelled: { command: sees('sleep 30'), secretEnv, graceMs: 100 },
      spawnFails: { command: sees('true'), secretEnv, cwd: join(dir, 'missing') },
    };
    const ids: Record<string, string> = {};
    for (const [name, spec] of Object.entries(specs)) ids[name] = (await ex.submit(spec)).id;
    await new Promise<void>((resolve) => {
      const check = (): void => void (ex.get(ids['cancelled']!)?.handle ? resolve() : setTimeout(check, 10));
      check();
    });
    await ex.cancel(ids['cancelled']!);
    await ex.onIdle();

    expect(ex.get(ids['plain']!)).toMatchObject({ status: 'completed', exitCode: 0 });
    expect(ex.get(ids['detached']!)).toMatchObject({ status: 'completed', exitCode: 0 });
    const retried = ex.get(ids['retried']!)!;
    expect(retried).toMatchObject({ status: 'completed', attempt: 2 });
    expect(retried.history[0]?.exitCode).toBe(1); // not 9: the secret reached the first attempt too
    expect(ex.get(ids['cancelled']!)).toMatchObject({ status: 'cancelled' });
    expect(ex.get(ids['spawnFails']!)?.error?.code).toBe('SPAWN_FAILED');

    // A rejected secret is not echoed by the error either.
    const bad = await caught(() => ex.submit({ command: 'true', secretEnv: { API_TOKEN: `${secret}\0` } }));
    expect(bad.code).toBe('INVALID_SPEC');
    captured.push(bad.message, String(bad.stack), JSON.stringify(bad));

    // What the caller sees: records keep at most the key name.
    for (const id of Object.values(ids)) {
      const rec = ex.get(id)!;
      captured.push(JSON.stringify(rec));
      expect(JSON.stringify(rec.spec)).not.toContain('secretEnv":{');
    }
    captured.push(JSON.stringify(ex.list()), JSON.stringify(ex.completions()), JSON.stringify(ex.metrics()));
    for (const id of Object.values(ids)) captured.push((await ex.readOutput(id)).text, (await ex.readOutput(id, { stream: 'stderr' })).text);
    await ex.shutdown();

    // Scan every byte on disk (binary-safe) and everything captured, for the secret in raw,
    // base64 and hex form; the canary must be found (in the output files).
    const needles = [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('hex')].map((s) => Buffer.from(s));
    const files = walkFiles(dir);
    expect(files.some((f) => f.includes(`${join('runs', 'jobs')}`))).toBe(true);
    let canaryFound = 0;
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const needle of needles) expect(bytes.includes(needle), `${file} holds the secret`).toBe(false);
      if (bytes.includes(Buffer.from(canary))) canaryFound++;
    }
    expect(canaryFound, 'canary found in output files (the scan works)').toBeGreaterThanOrEqual(2);
    const text = Buffer.from(captured.join('\n'));
    expect(captured.join('\n')).toContain(canary);
    for (const needle of needles) expect(text.includes(needle), 'events, errors or logs hold the secret').toBe(false);
  }, 60_000);
});
