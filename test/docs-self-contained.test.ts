// The docs, comments, tests and benchmarks speak of this repository alone: no reference to
// design documents, directories or numbered work items a reader of the package does not have.
// (The API reference is checked by `npm run docs`: typedoc with validation.notDocumented and
// treatWarningsAsErrors fails on any undocumented export.)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const self = fileURLToPath(import.meta.url);
const SKIP = new Set(['node_modules', 'dist', '.git', '.tmp', 'api']);

function* files(dir: string, depth = 0): Generator<string> {
  if (depth > 8) return; // bounded: the tree is a few levels deep
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path, depth + 1);
    else if (/\.(ts|md|json|sh)$/.test(name) && name !== 'package-lock.json') yield path;
  }
}

// Built from pieces so this file does not match itself.
const OUTSIDE = [
  new RegExp(['DESIGN', '\\.md'].join('')),
  new RegExp(['DESIGN', ' ', '§'].join('')),
  new RegExp(['\\.\\./', 'shared', '/'].join('')),
  new RegExp(['\\bshared', '/', 'DESIGN'].join('')),
  new RegExp(['\\b[Ii]ssue', ' ', '#?\\d'].join('')),
  new RegExp('§'),
];

describe('docs and sources are self-contained', () => {
  it('no file refers to design documents or numbered work items outside the repository', () => {
    const hits: string[] = [];
    let scanned = 0;
    for (const file of [...files(join(root, 'docs')), ...files(join(root, 'src')), ...files(join(root, 'test')),
      ...files(join(root, 'bench')), ...files(join(root, 'examples')), join(root, 'README.md')]) {
      if (file === self) continue;
      scanned++;
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        if (OUTSIDE.some((re) => re.test(line))) hits.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(scanned).toBeGreaterThan(100);
    expect(hits).toEqual([]);
  });
});
