#!/usr/bin/env bash
# Consumer smoke test: the package as users get it. Packs the tarball (`npm pack` runs `prepare`,
# which builds dist/), installs it into fresh projects outside the repository and checks that each
# kind of consumer can typecheck and run against every entry point listed in `exports`:
#   ts-nodenext  TypeScript, module nodenext: ESM main.ts and CommonJS cjs-consumer.cts (require)
#   ts-bundler   TypeScript, moduleResolution bundler; also bundled by esbuild (ESM, platform
#                node), and the bundle kills a timed-out process tree, with and without node_modules
#   esm-mjs      plain JavaScript, .mjs with import (typechecked with checkJs)
#   cjs          plain JavaScript, .cjs with require() (typechecked with checkJs)
# then publint --strict and @arethetypeswrong/cli on the same tarball.
#
# Tools come from the repository's node_modules (tsc, esbuild, publint, attw, @types/node), so
# the only registry traffic is the package's own three dependencies (--prefer-offline).
#
# Prints one line per check and "consumer smoke: N passed, N failed in S s"; writes the counts to
# .tmp/consumer-smoke.json for .ci/run; exits non-zero when a check failed.
# BGEXEC_SMOKE_KEEP=1 keeps the temporary projects for inspection.
set -uo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="$repo/node_modules/.bin"
work="$(mktemp -d "${TMPDIR:-/tmp}/bgexec-smoke.XXXXXX")"
if [ -z "${BGEXEC_SMOKE_KEEP:-}" ]; then trap 'rm -rf "$work"' EXIT; else echo "keeping $work"; fi

ms() { date +%s%3N; }
t0=$(ms)
passed=0
failed=0

# check NAME COMMAND...: runs COMMAND with its output in a log, shown only when it fails.
check() {
  local name=$1 log="$work/check-$((passed + failed)).log" start
  shift
  start=$(ms)
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    printf 'ok    %-62s %6d ms\n' "$name" "$(($(ms) - start))"
  else
    failed=$((failed + 1))
    printf 'FAIL  %-62s %6d ms\n' "$name" "$(($(ms) - start))"
    tail -n 60 "$log" | sed 's/^/      | /'
  fi
}

finish() {
  local secs
  secs=$(awk "BEGIN { printf \"%.1f\", ($(ms) - $t0) / 1000 }")
  mkdir -p "$repo/.tmp"
  printf '{"passed":%d,"failed":%d,"seconds":%s}\n' "$passed" "$failed" "$secs" >"$repo/.tmp/consumer-smoke.json"
  echo "consumer smoke: $passed passed, $failed failed in $secs s"
  [ "$failed" -eq 0 ]
  exit
}

# ---------------------------------------------------------------------------------------------
# The tarball

pack() {
  (cd "$repo" && npm pack --pack-destination "$work" --loglevel=warn) || return 1
  tgz=$(ls "$work"/bgexec-*.tgz) || return 1
  tar -tzf "$tgz" >"$work/contents.txt" || return 1
  # What a user needs, and nothing generated for the repository itself.
  local must
  for must in package/dist/index.js package/dist/index.d.ts package/README.md package/LICENSE package/CHANGELOG.md; do
    grep -qx "$must" "$work/contents.txt" || { echo "missing from the tarball: $must"; return 1; }
  done
  if grep -E '^package/(docs/api/|src/|test/|bench/|\.ci/|.*\.map$)' "$work/contents.txt"; then
    echo 'the tarball holds files users do not need (listed above)'
    return 1
  fi
  echo "$(wc -l <"$work/contents.txt") files, $(wc -c <"$tgz") bytes packed"
}
tgz=""
check "npm pack (prepare builds dist)" pack
[ -n "$tgz" ] || finish
echo "      $(tail -n 1 "$work/check-0.log")"

# Every subpath in `exports` except ./package.json, as import specifiers: bgexec, bgexec/testing, …
mapfile -t entries < <(node -e '
  const { name, exports } = require(process.argv[1]);
  for (const k of Object.keys(exports)) if (k !== "./package.json") console.log(k === "." ? name : name + k.slice(1));
' "$repo/package.json")

# ---------------------------------------------------------------------------------------------
# Fixture projects

# The same program for every consumer, without type annotations so that it is valid TypeScript
# and JavaScript alike: a real task submitted, followed, waited for and read; then each subpath.
body() {
  cat <<'EOF'
// bgexec: a real task, submitted, followed live, waited for and read back.
const ex = new BackgroundExecutor({ scheduler: new PriorityScheduler({ concurrency: 2 }), store: new MemoryStore() });
const task = await ex.submit({ command: "printf 'one\\n'; sleep 0.2; printf 'two\\n'", priority: 1, timeoutMs: 20_000 });
let followed = '';
for await (const chunk of ex.follow(task.id)) followed += chunk.text;
const done = await ex.wait(task.id, { timeoutMs: 20_000 });
const read = await ex.readOutput(task.id, { stream: 'stdout' });
assert.equal(done.status, 'completed');
assert.equal(done.exitCode, 0);
assert.equal(followed, 'one\ntwo\n');
assert.equal(read.text, 'one\ntwo\n');
assert.equal(read.eof, true);

// bgexec/testing: the same API over a FakeTransport and a ManualClock.
const clock = new ManualClock();
const fake = new FakeTransport({ clock });
fake.script('deploy', { exitCode: 0, stdout: 'deployed\n', delayMs: 1_000 });
const fx = new BackgroundExecutor({ transports: { local: fake }, scheduler: new PriorityScheduler({ clock }) });
const started = new Promise((resolve) => fx.once('task:started', resolve));
const faked = await fx.submit({ command: 'deploy' });
await started;
await clock.advance(1_000);
assert.equal((await fx.wait(faked.id)).status, 'completed');
assert.equal((await fx.readOutput(faked.id)).text, 'deployed\n');
await fx.shutdown();

// bgexec/agent: the five tools, one call through them.
const tools = createAgentTools(ex);
assert.deepEqual(tools.map((t) => t.name).sort(), ['bg_kill', 'bg_list', 'bg_read', 'bg_start', 'bg_wait', 'bg_write']);
const bgList = tools.find((t) => t.name === 'bg_list');
assert.ok(bgList);
assert.equal(typeof (await bgList.handler({})), 'object');

// bgexec/ssh and bgexec/vagrant: construction checks options and spawns nothing. Their errors
// are the root's classes (one module instance, whichever way the package was loaded).
const ssh = new SshTransport({ host: '127.0.0.1', user: 'nobody' });
assert.equal(ssh.kind, 'ssh');
await ssh.close();
await new VagrantTransport({ cwd: '/nonexistent', machine: 'build' }).close();
assert.throws(() => new VagrantTransport({ cwd: '' }), BgexecError);

await ex.shutdown();
EOF
}

esm_header() {
  cat <<'EOF'
import assert from 'node:assert/strict';
import { BackgroundExecutor, BgexecError, MemoryStore, PriorityScheduler } from 'bgexec';
import { FakeTransport, ManualClock } from 'bgexec/testing';
import { createAgentTools } from 'bgexec/agent';
import { SshTransport } from 'bgexec/ssh';
import { VagrantTransport } from 'bgexec/vagrant';
import { entries } from './entries.js';

for (const [name, m] of Object.entries(entries)) assert.ok(Object.keys(m).length > 0, `${name} exports nothing`);
EOF
}

cjs_header() {
  cat <<'EOF'
const assert = require('node:assert/strict');
const { BackgroundExecutor, BgexecError, MemoryStore, PriorityScheduler } = require('bgexec');
const { FakeTransport, ManualClock } = require('bgexec/testing');
const { createAgentTools } = require('bgexec/agent');
const { SshTransport } = require('bgexec/ssh');
const { VagrantTransport } = require('bgexec/vagrant');
const { entries } = require('./entries.cjs');

for (const [name, m] of Object.entries(entries)) assert.ok(Object.keys(m).length > 0, `${name} exports nothing`);
EOF
}

# entries.{ts,js,cjs}: every entry point of `exports`, so that one added later is covered too.
entries_esm() {
  local i=0 e list=""
  for e in "${entries[@]}"; do
    echo "import * as e$i from '$e';"
    list="$list  '$e': e$i,"$'\n'
    i=$((i + 1))
  done
  printf 'export const entries = {\n%s};\n' "$list"
}
entries_cjs() {
  local e
  echo 'exports.entries = {'
  for e in "${entries[@]}"; do echo "  '$e': require('$e'),"; done
  echo '};'
}

# Type-level use of each subpath (TypeScript consumers).
types_ts() {
  cat <<'EOF'
import type { BackgroundExecutor, ExecutorOptions, OutputChunk, TaskRecord, TaskSpec } from 'bgexec';
import type { FakeOutcome } from 'bgexec/testing';
import type { AgentTool, AgentToolResult } from 'bgexec/agent';
import type { SshTransportOptions } from 'bgexec/ssh';
import type { VagrantTransportOptions } from 'bgexec/vagrant';

export const spec: TaskSpec = { command: 'make', args: ['-j4'], priority: 5, retry: { attempts: 2 } };
export const options: ExecutorOptions = { defaults: { timeoutMs: 60_000 } };
export const outcome: FakeOutcome = { exitCode: 1, stderr: 'boom\n' };
export const ssh: SshTransportOptions = { host: 'build1', user: 'ci', port: 22 };
export const vagrant: VagrantTransportOptions = { cwd: '/srv/vm', machine: 'default' };
export type Row = [TaskRecord['status'], OutputChunk['text'], AgentTool['name'], Awaited<ReturnType<BackgroundExecutor['wait']>>];
export type Result = AgentToolResult;
EOF
}

# tsconfig.json: strict; Node's types from the repository (a real project would install
# @types/node). ts-nodenext also checks the package's declaration files themselves (skipLibCheck
# off); the others use tsc --init's skipLibCheck, which saves seconds of checking @types/node.
tsconfig() {
  local module=$1 resolution=$2 skiplib=$3 extra=$4
  cat <<EOF
{
  "compilerOptions": {
    "target": "ES2022", "module": "$module", "moduleResolution": "$resolution", "lib": ["ES2023"],
    "strict": true, "skipLibCheck": $skiplib, "outDir": "dist", "rootDir": ".",
    "types": ["node"], "typeRoots": ["$repo/node_modules/@types"]$extra
  },
  "include": ["*.ts", "*.cts", "*.mjs", "*.cjs"]
}
EOF
}

make_projects() {
  local p
  for p in ts-nodenext ts-bundler esm-mjs cjs; do mkdir -p "$work/$p"; done

  p="$work/ts-nodenext"
  echo '{ "name": "smoke-ts-nodenext", "private": true, "type": "module" }' >"$p/package.json"
  tsconfig nodenext nodenext false '' >"$p/tsconfig.json"
  { esm_header; body; echo "console.log('ts-nodenext: ok');"; } >"$p/main.ts"
  entries_esm >"$p/entries.ts"
  types_ts >"$p/types.ts"
  # A CommonJS TypeScript file: `import` compiles to require(), which loads the ESM build.
  cat >"$p/cjs-consumer.cts" <<'EOF'
import assert = require('node:assert/strict');
import { BackgroundExecutor, type TaskRecord } from 'bgexec';
import { FakeTransport } from 'bgexec/testing';

async function main(): Promise<void> {
  const ex = new BackgroundExecutor({ transports: { local: new FakeTransport({ defaultOutcome: { stdout: 'cts\n' } }) } });
  const task: TaskRecord = await ex.submit({ command: 'anything' });
  assert.equal((await ex.wait(task.id)).status, 'completed');
  assert.equal((await ex.readOutput(task.id)).text, 'cts\n');
  await ex.shutdown();
  console.log('ts-nodenext (cts): ok');
}
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
EOF

  p="$work/ts-bundler"
  echo '{ "name": "smoke-ts-bundler", "private": true, "type": "module" }' >"$p/package.json"
  tsconfig esnext bundler true '' >"$p/tsconfig.json"
  { esm_header; body; echo "console.log('ts-bundler: ok');"; } >"$p/main.ts"
  entries_esm >"$p/entries.ts"
  types_ts >"$p/types.ts"
  # The bundled app: a timeout kills a process tree whose processes ignore SIGTERM, so the kill
  # escalates to SIGKILL, the step where the tree-kill backstop is loaded.
  cat >"$p/bundle-app.ts" <<'EOF'
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackgroundExecutor } from 'bgexec';

// Alive = listed in /proc and not a zombie (an orphan's zombie may never be reaped here).
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const ex = new BackgroundExecutor();
const task = await ex.submit({ command: 'trap "" TERM; sleep 300 & echo $!; sleep 300', timeoutMs: 500, graceMs: 300 });
const done = await ex.wait(task.id, { timeoutMs: 30_000 });
const child = Number((await ex.readOutput(task.id)).text.trim());
await ex.shutdown();
if (done.status !== 'timed_out') throw new Error(`expected timed_out, got ${done.status}`);
if (!(child > 1)) throw new Error('the task did not print its background child');
for (let i = 0; i < 100 && alive(child); i++) await sleep(50);
if (alive(child)) throw new Error(`background child ${child} survived the timeout`);
console.log(`bundle: ${done.status}, background child ${child} gone`);
EOF

  p="$work/esm-mjs"
  echo '{ "name": "smoke-esm-mjs", "private": true }' >"$p/package.json"
  tsconfig nodenext nodenext true ', "allowJs": true, "checkJs": true, "noEmit": true' >"$p/tsconfig.json"
  { esm_header | sed "s#'./entries.js'#'./entries.mjs'#"; body; echo "console.log('esm-mjs: ok');"; } >"$p/main.mjs"
  entries_esm >"$p/entries.mjs"

  p="$work/cjs"
  echo '{ "name": "smoke-cjs", "private": true }' >"$p/package.json"
  tsconfig nodenext nodenext true ', "allowJs": true, "checkJs": true, "noEmit": true' >"$p/tsconfig.json"
  {
    cjs_header
    echo '(async () => {'
    body
    echo "console.log('cjs: ok');"
    echo '})().catch((err) => {'
    echo '  console.error(err);'
    echo '  process.exit(1);'
    echo '});'
  } >"$p/main.cjs"
  entries_cjs >"$p/entries.cjs"
}

# The four installs run side by side; each is a fresh project with only the tarball in it.
install_all() {
  local p pids=() ok=0
  for p in ts-nodenext ts-bundler esm-mjs cjs; do
    (cd "$work/$p" && npm install --no-audit --no-fund --prefer-offline --loglevel=error "$tgz" >"$work/install-$p.log" 2>&1) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || ok=1; done
  [ "$ok" -eq 0 ] || { cat "$work"/install-*.log; return 1; }
}

check "write fixture projects" make_projects
check "npm install the tarball (4 projects)" install_all

in_dir() { (cd "$1" && shift && "$@"); }

check "ts-nodenext: tsc (every entry point, .ts and .cts)" in_dir "$work/ts-nodenext" "$bin/tsc" -p .
check "ts-nodenext: run main.js (import)" in_dir "$work/ts-nodenext" node dist/main.js
check "ts-nodenext: run cjs-consumer.cjs (require)" in_dir "$work/ts-nodenext" node dist/cjs-consumer.cjs
check "ts-bundler: tsc (every entry point)" in_dir "$work/ts-bundler" "$bin/tsc" -p .
check "ts-bundler: run main.js" in_dir "$work/ts-bundler" node dist/main.js
check "esm-mjs: tsc --checkJs (every entry point)" in_dir "$work/esm-mjs" "$bin/tsc" -p .
check "esm-mjs: run main.mjs" in_dir "$work/esm-mjs" node main.mjs
check "cjs: tsc --checkJs (every entry point)" in_dir "$work/cjs" "$bin/tsc" -p .
check "cjs: run main.cjs (require)" in_dir "$work/cjs" node main.cjs

# The bgexec-mcp command from the installed package. The MCP SDK is an optional peer dependency,
# absent here: --help works without it, and a real start says how to install it (exit 2).
mcp_bin_without_sdk() {
  local cmd="$work/esm-mjs/node_modules/.bin/bgexec-mcp" out code
  "$cmd" --help 2>&1 | grep -q 'Usage: bgexec-mcp' || return 1
  out=$("$cmd" </dev/null 2>&1)
  code=$?
  echo "$out"
  [ "$code" -eq 2 ] && grep -q 'npm install @modelcontextprotocol/sdk' <<<"$out"
}
check "bgexec-mcp bin: --help; without the MCP SDK a clear error" mcp_bin_without_sdk

# The bgexec command from the installed package: with `bgexec run` as the owner of a fresh
# store, a second process submits a task, waits for it and reads its output.
cli_bin() {
  local cmd="$work/esm-mjs/node_modules/.bin/bgexec" dir id owner i ok=1
  "$cmd" --help 2>&1 | grep -q 'Usage: bgexec' || return 1
  dir=$(mktemp -d)
  "$cmd" --dir "$dir" run >"$dir.owner.log" 2>&1 &
  owner=$!
  for i in $(seq 1 100); do
    id=$("$cmd" --dir "$dir" submit -- 'echo smoke-ok' 2>/dev/null) && break
    sleep 0.1
  done
  echo "submitted: $id"
  if [ -n "$id" ] && "$cmd" --dir "$dir" wait --timeout 30s "$id" && "$cmd" --dir "$dir" logs "$id" | grep -qx smoke-ok; then ok=0; fi
  kill "$owner" 2>/dev/null
  wait "$owner" 2>/dev/null
  cat "$dir.owner.log"
  rm -rf "$dir" "$dir.owner.log"
  return "$ok"
}
check "bgexec bin: run as owner; submit, wait and logs from another process" cli_bin

# esbuild: ESM output for Node. The bundle runs where node_modules is (tree-kill loaded on
# demand) and copied alone to an empty directory (no tree-kill: the /proc sweep still kills).
bundle() {
  in_dir "$work/ts-bundler" "$bin/esbuild" bundle-app.ts --bundle --format=esm --platform=node --target=node20 \
    --outfile=bundle/app.mjs --log-level=warning || return 1
  mkdir -p "$work/bare" && cp "$work/ts-bundler/bundle/app.mjs" "$work/bare/app.mjs"
}
check "esbuild: bundle an app (format esm, platform node)" bundle
check "esbuild: run the bundle (timeout kills the tree)" node "$work/ts-bundler/bundle/app.mjs"
check "esbuild: run the bundle without node_modules" node "$work/bare/app.mjs"

check "publint --strict" "$bin/publint" run --strict "$tgz"
# attw's default profile checks node10, node16 (CJS and ESM) and bundler resolution; passing it
# passes the node16 profile too. One rule is ignored: cjs-resolves-to-esm says that `require()`
# reaches an ES module. That is the design: Node >= 20.19 (the `engines` floor) loads ES modules
# through require(), TypeScript >= 5.8 types it under `module: nodenext`, and the cjs and
# ts-nodenext (.cts) checks above run exactly that. A dual CJS build would cost a second copy of
# every module and two instances of every class (instanceof across them fails).
check "attw (all resolutions; cjs-resolves-to-esm ignored, see comment)" "$bin/attw" "$tgz" --ignore-rules cjs-resolves-to-esm

finish
