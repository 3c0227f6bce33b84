// Remote attempts outlive everything local: the ssh client, the executor, and an outage of the
// host's sshd. Faults of the transport never become task failures, with two exceptions the
// design asks for: a rebooted host (lost) and a host away past `unreachableTimeoutMs` (lost).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import type { TransportHandle } from '../../src/task.js';
import { killPids, pidsOfTask } from '../harness/procs.js';
import { contractTaskId } from './_contract.js';
import { FAST, describeSkipped, skipReason, sshd, sshTransport } from './_ssh-fixture.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// 20 lines over ~2 s, a line on stderr, exit 7.
const TASK = 'i=0; while [ $i -lt 20 ]; do echo "line $i"; i=$((i+1)); sleep 0.1; done; echo tail >&2; exit 7';
const LINES = Array.from({ length: 20 }, (_, i) => `line ${i}\n`).join('');

/** Processes whose command line mentions `needle` (the ssh master of a control directory). */
function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(needle)) found.push(Number(name));
    } catch {
      // Gone.
    }
  }
  return found;
}

if (skipReason !== undefined) describeSkipped('SshTransport recovery');
else {
  describe('SshTransport: recovery and outages', () => {
    it('a task survives the death of the ssh master and of its executor; a restarted executor reads its real end', async () => {
      const s = await sshd();
      const dir = mkdtempSync(join(tmpdir(), 'bgexec-ssh-restart-'));
      const options = s.options(FAST);
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/transports/_ssh-executor-child.ts'), dir, JSON.stringify(options), JSON.stringify({ command: TASK })], {
        cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'],
      });
      let ex: BackgroundExecutor | undefined;
      let childDir: string | undefined;
      try {
        const lines: string[] = [];
        child.stdout.setEncoding('utf8');
        const seen = new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (c: string) => {
            lines.push(...c.split('\n').filter(Boolean));
            if (lines.some((l) => l.startsWith('started ')) && lines.some((l) => l.startsWith('output '))) resolve();
          });
          child.once('exit', (code) => reject(new Error(`child exited ${code}: ${lines.join(' | ')}`)));
        });
        await seen;
        const id = lines.find((l) => l.startsWith('started '))!.split(' ')[1]!;
        const localDir = lines.find((l) => l.startsWith('dir '))!.slice(4);
        childDir = localDir;
        const masters = processesMentioning(localDir).filter((p) => p !== child.pid);
        expect(masters.length).toBeGreaterThan(0);
        killPids([...masters, child.pid!], 'SIGKILL');
        await new Promise((r) => child.once('exit', r));
        expect(pidsOfTask(id).length).toBeGreaterThan(0); // still running on the host

        const store = new JsonDirStore({ dir, durability: 'rename' });
        ex = new BackgroundExecutor({ store, transports: { build1: sshTransport(s) }, scheduler: new PriorityScheduler({ concurrency: 2 }) });
        await ex.start();
        const done = await ex.wait(id, { timeoutMs: 20_000 });
        expect(done).toMatchObject({ status: 'failed', exitCode: 7, attempt: 1 });
        expect((await ex.readOutput(id)).text).toBe(LINES);
        expect((await ex.readOutput(id, { stream: 'stderr' })).text).toBe('tail\n');
      } finally {
        child.kill('SIGKILL');
        await ex?.shutdown({ mode: 'kill', graceMs: 200 });
        rmSync(dir, { recursive: true, force: true });
        // The killed child could not remove its private directory itself.
        if (childDir !== undefined) rmSync(childDir, { recursive: true, force: true });
      }
    });

    it('shutdown detach leaves a detached remote task running: no end is reported, and the next executor collects it', async () => {
      const s = await sshd();
      const dir = mkdtempSync(join(tmpdir(), 'bgexec-ssh-detach-'));
      const settled: string[] = [];
      const open = () => new BackgroundExecutor({ store: new JsonDirStore({ dir }), transports: { build1: sshTransport(s) }, scheduler: new PriorityScheduler({ concurrency: 2 }) });
      const first = open();
      first.on('task:settled', (e) => settled.push(`${e.taskId} ${e.record.status}`));
      first.on('error', (e) => settled.push(`error ${e.error.code}`));
      await first.start();
      let second: BackgroundExecutor | undefined;
      try {
        const rec = await first.submit({ command: TASK, transport: 'build1', detached: true });
        await new Promise<void>((resolve) => first.on('task:output', () => resolve()));
        await first.shutdown({ mode: 'detach' });
        // Nothing ended: no event, the in-memory view and the stored record both say running.
        expect(settled).toEqual([]);
        expect(first.get(rec.id)?.status).toBe('running');
        second = open();
        await second.start();
        const done = await second.wait(rec.id, { timeoutMs: 20_000 });
        expect(done).toMatchObject({ status: 'failed', exitCode: 7, attempt: 1 });
        expect((await second.readOutput(rec.id)).text).toBe(LINES);
      } finally {
        await second?.shutdown({ mode: 'kill', graceMs: 200 });
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a cwd missing on the host ends the attempt with reason cwd_missing, naming the directory', async () => {
      const s = await sshd();
      const ex = new BackgroundExecutor({ transports: { build1: sshTransport(s) }, scheduler: new PriorityScheduler({ concurrency: 2 }) });
      await ex.start();
      try {
        const rec = await ex.submit({ command: 'true', cwd: '/no/such/dir-on-host', transport: 'build1' });
        const done = await ex.wait(rec.id, { timeoutMs: 20_000 });
        expect(done).toMatchObject({ status: 'failed', reason: 'cwd_missing', error: { code: 'SPAWN_FAILED', reason: 'cwd_missing' } });
        expect(done.history[0]?.reason).toBe('cwd_missing');
        expect(done.error?.message).toContain('/no/such/dir-on-host');
      } finally {
        await ex.shutdown({ mode: 'kill', graceMs: 200 });
      }
    });

    it('sshd stopped mid-task and started again: the task completes with its real exit code, no output lost', async () => {
      const s = await sshd();
      const transport = sshTransport(s);
      const ex = new BackgroundExecutor({ transports: { build1: transport }, scheduler: new PriorityScheduler({ concurrency: 2 }) });
      await ex.start();
      try {
        const rec = await ex.submit({ command: TASK.replace('sleep 0.1', 'sleep 0.15'), transport: 'build1' });
        await new Promise<void>((resolve) => ex.on('task:output', () => resolve()));
        const handle = ex.get(rec.id)!.handle as TransportHandle;
        await s.stop();
        // Polls fail now: the attempt is still running, with a note saying why.
        let note: string | undefined;
        for (let i = 0; i < 100 && note === undefined; i++) {
          const p = await transport.poll(handle);
          expect(p.state).toBe('running');
          note = p.unreachable;
          await sleep(20);
        }
        expect(note).toMatch(/refused|closed|reset|ssh/i);
        await sleep(1_500);
        expect(ex.get(rec.id)?.status).toBe('running');
        await s.start();
        const done = await ex.wait(rec.id, { timeoutMs: 20_000 });
        expect(done).toMatchObject({ status: 'failed', exitCode: 7 });
        expect((await ex.readOutput(rec.id)).text).toBe(LINES);
        expect((await transport.poll(handle)).unreachable).toBeUndefined();
      } finally {
        await s.start().catch(() => {});
        await ex.shutdown({ mode: 'kill', graceMs: 200 });
      }
    });

    it('a host away longer than unreachableTimeoutMs ends the attempt as lost (unreachable_timeout)', async () => {
      const s = await sshd();
      const t = sshTransport(s, { unreachableTimeoutMs: 1_000 });
      const req = { taskId: contractTaskId(), attempt: 1, command: 'sleep 30', detached: false };
      const handle = await t.start(req);
      await s.stop();
      try {
        const exit = await t.wait(handle);
        expect(exit).toMatchObject({ state: 'lost', reason: 'unreachable_timeout' });
        expect((await t.poll(handle)).state).toBe('lost');
      } finally {
        await s.start();
        killPids(pidsOfTask(req.taskId), 'SIGKILL');
        await t.close();
      }
    });

    it('an attempt whose host rebooted (boot id changed, no exit marker) is lost', async () => {
      const s = await sshd();
      const a = sshTransport(s);
      const b = sshTransport(s);
      const req = { taskId: contractTaskId(), attempt: 1, command: 'sleep 30', detached: false };
      try {
        const handle = await a.start(req);
        const fromOtherBoot = { ...(JSON.parse(JSON.stringify(handle)) as TransportHandle), bootId: 'a-boot-before-the-reboot' };
        expect(await b.wait(fromOtherBoot)).toMatchObject({ state: 'lost', reason: 'boot_id_changed' });
        expect((await a.poll(handle)).state).toBe('running');
        await a.kill(handle, { graceMs: 1_000 });
        expect(await a.wait(handle)).toMatchObject({ state: 'exited', signal: 'SIGTERM' });
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
