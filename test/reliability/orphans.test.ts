// No orphans: whatever ends a task — cancel, timeout, shutdown({ mode: 'kill' }), or the
// SIGKILL of its executor followed by a restart — no process of its tree is left, including a
// grandchild that left the process group with setsid and processes that ignore SIGTERM.
// Processes are found by scanning /proc for BGEXEC_TASK_ID=<id> (test/proc.ts, independent of src/).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import { eventually, processesOfTask } from '../proc.js';
import { onCleanup, runCleanups, tempDir } from './_util.js';

afterEach(runCleanups);

// Five processes: the shell; a setsid grandchild (outside the group: only the /proc sweep
// finds it); a subshell that ignores TERM (needs the SIGKILL escalation); and a setsid shell
// that ignores TERM with its own child (both escapes at once, re-parented to init once its
// parent dies).
const TREE = [
  'setsid sleep 120 &',
  "(trap '' TERM; exec sleep 120) &",
  `setsid sh -c "trap '' TERM; sleep 120; :" &`,
  'wait',
].join('\n');
const TREE_SIZE = 5;

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function executor(options: { store?: JsonDirStore } = {}): BackgroundExecutor {
  const ex = new BackgroundExecutor({ scheduler: new PriorityScheduler({ concurrency: 8 }), ...options });
  onCleanup(() => ex.shutdown({ mode: 'kill', graceMs: 100 }));
  return ex;
}

// Every process of the tree exists (so a later "none left" means something).
async function treeUp(id: string): Promise<void> {
  expect(await eventually(() => processesOfTask(id).length >= TREE_SIZE, 20_000), `tree of ${id} is up`).toBe(true);
}

// SIGKILL is asynchronous: the last processes may take a moment to be gone; never ten seconds.
async function treeGone(id: string): Promise<void> {
  const gone = await eventually(() => processesOfTask(id).length === 0, 10_000);
  expect(gone ? [] : processesOfTask(id), `processes left of ${id}`).toEqual([]);
}

describe('no orphans', () => {
  it('after cancel', async () => {
    const ex = executor();
    const t = await ex.submit({ command: TREE, graceMs: 300 });
    await treeUp(t.id);
    const done = await ex.cancel(t.id);
    expect(done).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
    await treeGone(t.id);
  });

  it('after a timeout', async () => {
    const ex = executor();
    const t = await ex.submit({ command: TREE, timeoutMs: 3000, graceMs: 300 });
    await treeUp(t.id);
    expect(await ex.wait(t.id)).toMatchObject({ status: 'timed_out', reason: 'timeout' });
    await treeGone(t.id);
  });

  it('after shutdown({ mode: "kill" }), detached tasks included', async () => {
    const ex = executor();
    const ids: string[] = [];
    for (const detached of [false, true, false]) ids.push((await ex.submit({ command: TREE, detached, graceMs: 300 })).id);
    for (const id of ids) await treeUp(id);
    await ex.shutdown({ mode: 'kill' });
    for (const id of ids) await treeGone(id);
  });

  // A task ends when its main process exits; what that process left behind is reaped first, so
  // the end is final: eof means no more output can come.
  for (const detached of [false, true]) {
    it(`after its main process exited normally (detached: ${detached}): background children and setsid escapes are reaped, output final`, async () => {
      const ex = executor();
      const t = await ex.submit({ command: '(sleep 1; echo late) & setsid sleep 300 & echo first', detached });
      expect(await ex.wait(t.id, { timeoutMs: 30_000 })).toMatchObject({ status: 'completed', exitCode: 0, stdoutBytes: 6 });
      expect(processesOfTask(t.id)).toEqual([]);
      expect(await ex.readOutput(t.id)).toMatchObject({ text: 'first\n', eof: true });
      await new Promise((r) => setTimeout(r, 1500));
      expect(await ex.readOutput(t.id)).toMatchObject({ text: 'first\n', eof: true, totalBytes: 6 });
    });
  }

  it('shutdown({ mode: "kill" }) while the leftovers of an exited main process linger', async () => {
    const ex = executor();
    const dir = tempDir();
    const ids: string[] = [];
    // The leftovers may linger a minute; the main process says when it has exited.
    for (const detached of [false, true]) {
      const flag = `${dir}/exited-${String(detached)}`;
      ids.push((await ex.submit({ command: `sleep 300 & touch '${flag}'; exit 0`, detached, lingerMs: 60_000, graceMs: 300 })).id);
      expect(await eventually(() => existsSync(flag), 20_000), 'main process exited').toBe(true);
    }
    for (const id of ids) expect(ex.get(id)?.status).toBe('running');
    await ex.shutdown({ mode: 'kill' });
    for (const id of ids) await treeGone(id);
  });

  it("orphans: 'keep' leaves a daemon running on purpose", async () => {
    const ex = executor();
    const t = await ex.submit({ command: 'sleep 300 >/dev/null 2>&1 & exit 0', orphans: 'keep' });
    expect(await ex.wait(t.id, { timeoutMs: 30_000 })).toMatchObject({ status: 'completed' });
    expect(processesOfTask(t.id).length).toBe(1);
    for (const pid of processesOfTask(t.id)) process.kill(pid, 'SIGKILL');
  });

  it('after the executor is SIGKILLed and a new one starts on the same store', async () => {
    const dir = tempDir();
    const specs = [
      { command: TREE, graceMs: 300 },
      { command: TREE, graceMs: 300 },
      { command: TREE, graceMs: 300, detached: true },
    ];
    const script = fileURLToPath(new URL('./_executor-child.ts', import.meta.url));
    const proc = spawn(process.execPath, ['--import', 'tsx', script, dir, JSON.stringify(specs)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    onCleanup(() => void proc.kill('SIGKILL'));
    const started: Array<{ id: string; detached: boolean }> = [];
    let buf = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const [word, id, detached] = buf.slice(0, nl).split(' ');
        buf = buf.slice(nl + 1);
        if (word === 'started' && id) started.push({ id, detached: detached === 'true' });
      }
    });
    expect(await eventually(() => started.length === specs.length, 60_000), 'child started its tasks').toBe(true);
    for (const { id } of started) await treeUp(id);
    const exited = once(proc, 'exit');
    proc.kill('SIGKILL');
    await exited;
    // The trees outlive their executor (each task is its own session)...
    for (const { id } of started) expect(processesOfTask(id).length, id).toBeGreaterThanOrEqual(TREE_SIZE);

    // ...until a new executor takes the store over: it kills the non-detached trees (their
    // lifetime was the dead executor's) and re-attaches the detached one.
    const ex = executor({ store: new JsonDirStore({ dir, durability: 'rename' }) });
    await ex.start();
    for (const { id, detached } of started) {
      if (detached) {
        expect(ex.get(id)?.status, id).toBe('running');
        continue;
      }
      expect(await ex.wait(id, { timeoutMs: 20_000 })).toMatchObject({ status: 'cancelled', reason: 'executor_restart' });
      await treeGone(id);
    }
    // The re-attached tree is as killable as one this executor started.
    await ex.shutdown({ mode: 'kill' });
    for (const { id } of started) await treeGone(id);
  });
});
