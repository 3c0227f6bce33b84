// The package as Node and npm see it: every entry point loads through both `import` and
// `require()`, and the tarball holds what users need (built code, guides, examples, license,
// changelog) without the generated API reference, source maps or sources. The full check, with
// real consumer projects, is .ci/consumer-smoke.sh.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
interface PackageJson {
  name: string;
  engines: { node: string };
  files: string[];
  exports: Record<string, string | Record<string, string>>;
  typesVersions: Record<string, Record<string, string[]>>;
  scripts: Record<string, string>;
  sideEffects: boolean;
  repository: { type: string; url: string };
  keywords: string[];
  license: string;
  dependencies: Record<string, string>;
}
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
const subpaths = Object.entries(pkg.exports).filter(([k]) => k !== './package.json');
const specifiers = subpaths.map(([k]) => (k === '.' ? pkg.name : `${pkg.name}${k.slice(1)}`));

describe('package.json', () => {
  it('every entry point has types first and a default condition (which require() takes)', () => {
    expect(specifiers).toEqual(expect.arrayContaining(['bgexec', 'bgexec/testing', 'bgexec/agent', 'bgexec/ssh', 'bgexec/vagrant']));
    for (const [key, target] of subpaths) {
      expect(typeof target, key).toBe('object');
      const conditions = Object.keys(target as Record<string, string>);
      expect(conditions[0], key).toBe('types');
      expect(conditions.at(-1), key).toBe('default');
      expect(conditions, key).not.toContain('require');
    }
  });

  it('maps each subpath to the same declarations for TypeScript resolution that ignores exports (node10)', () => {
    for (const [key, target] of subpaths) {
      if (key === '.') continue;
      expect(pkg.typesVersions['*']?.[key.slice(2)], key).toEqual([(target as Record<string, string>)['types']]);
    }
  });

  it('says Node >= 20.19, the first 20.x that loads ES modules through require()', () => {
    expect(pkg.engines.node).toBe('>=20.19');
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
    expect(major > 20 || (major === 20 && minor >= 19), `this Node (${process.version}) is below the floor`).toBe(true);
  });

  it('builds dist on install from git, and carries the metadata registries show', () => {
    expect(pkg.scripts['prepare']).toBe('npm run build');
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.repository).toMatchObject({ type: 'git', url: expect.stringMatching(/^git\+https:\/\/.+\.git$/) });
    expect(pkg.keywords.length).toBeGreaterThan(3);
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} bgexec contributors\n/);
    expect(readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8')).toMatch(/^## \[Unreleased\]$/m);
    // tree-kill is loaded lazily but is still needed at run time.
    expect(pkg.dependencies['tree-kill']).toBeDefined();
  });
});

describe('tarball contents', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'bgexec-pack-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('packs dist, the guides, examples, README, LICENSE and CHANGELOG; never docs/api, maps or sources', () => {
    // A stand-in tree with one file of each kind, packed with this package.json's `files`.
    const files = [
      'dist/index.js', 'dist/index.d.ts', 'dist/index.js.map', 'dist/index.d.ts.map', 'dist/agent/index.js',
      'docs/getting-started.md', 'docs/api/index.html', 'docs/api/modules/index.html', 'docs/api/assets/main.js',
      'examples/quickstart.ts', 'src/index.ts', 'test/a.test.ts', 'bench/run.ts', '.ci/run',
      'README.md', 'LICENSE', 'CHANGELOG.md', 'tsconfig.json',
    ];
    for (const f of files) {
      mkdirSync(dirname(join(scratch, f)), { recursive: true });
      writeFileSync(join(scratch, f), 'x\n');
    }
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'pack-probe', version: '1.0.0', files: pkg.files }));
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: scratch, encoding: 'utf8' });
    const packed = (JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path).sort();
    expect(packed).toEqual([
      'CHANGELOG.md', 'LICENSE', 'README.md', 'dist/agent/index.js', 'dist/index.d.ts', 'dist/index.js',
      'docs/getting-started.md', 'examples/quickstart.ts', 'package.json',
    ]);
  });

  it('the build emits no source or declaration maps (their sources are not shipped)', () => {
    const build = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
    expect(build.compilerOptions).toMatchObject({ sourceMap: false, declarationMap: false });
  });
});

// Loads the built package by its own name (package self-reference), in a child Node like a user's.
const built = subpaths.every(([, t]) => typeof t === 'object' && t['default'] !== undefined && existsSync(join(ROOT, t['default'])));
const notBuilt = 'skipped: dist/ is not built (npm run build)';
if (!built) console.warn(`test/package/exports.test.ts: ${notBuilt}`);

describe.skipIf(!built)(`the built package loads by name${built ? '' : ` (${notBuilt})`}`, () => {
  const load = (code: string, type: 'commonjs' | 'module') =>
    spawnSync(process.execPath, ['--input-type', type, '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });

  it.each(specifiers)('%s loads through require() and import(), with the same exports', (spec) => {
    const cjs = load(`console.log(JSON.stringify(Object.keys(require(${JSON.stringify(spec)})).sort()))`, 'commonjs');
    expect(cjs.stderr).toBe('');
    const esm = load(`console.log(JSON.stringify(Object.keys(await import(${JSON.stringify(spec)})).sort()))`, 'module');
    expect(esm.stderr).toBe('');
    const keys = JSON.parse(cjs.stdout) as string[];
    expect(keys.length).toBeGreaterThan(0);
    expect(JSON.parse(esm.stdout)).toEqual(keys);
  });

  it('require() and import share one instance: an error class from a subpath is the root one', () => {
    const r = load(
      `const { BgexecError } = require('bgexec'); const { VagrantTransport } = require('bgexec/vagrant');
       import('bgexec').then((m) => { let e; try { new VagrantTransport({ cwd: '' }); } catch (x) { e = x; }
       console.log(m.BgexecError === BgexecError, e instanceof BgexecError); });`,
      'commonjs',
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('true true\n');
  });
});

