// The wiring snippets of docs/agent-tools.md typecheck, without casts, against the real SDK
// packages: each snippet is compiled as its own module with the project's compiler options,
// after a few declarations of what the surrounding text assumes (an executor, a client, …).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

// What each section's snippet takes from its context, as declarations.
const CONTEXT: Record<string, string> = {
  'OpenAI Chat Completions': `declare const client: import('openai').OpenAI; declare const model: string; declare const messages: import('openai/resources/chat/completions').ChatCompletionMessageParam[];`,
  'OpenAI Responses API': `declare const client: import('openai').OpenAI; declare const model: string; declare const input: import('openai/resources/responses/responses').ResponseInputItem[];`,
  'OpenAI Agents SDK': '',
  'Vercel AI SDK': `declare const model: import('ai').LanguageModel; declare const messages: import('ai').ModelMessage[];`,
};
const COMMON = `declare const executor: import('bgexec').BackgroundExecutor; declare const session: string;`;

/** The first ```ts block of the `### <heading>…` section. */
function snippet(doc: string, heading: string): string {
  const start = doc.indexOf(`\n### ${heading}`);
  expect(start, heading).toBeGreaterThan(0);
  const m = /```ts\n([\s\S]*?)```/.exec(doc.slice(start));
  expect(m, heading).not.toBeNull();
  return m![1]!;
}

describe('docs/agent-tools.md wiring snippets', () => {
  it('typecheck against the real openai, @openai/agents and ai packages, with no casts', () => {
    const doc = readFileSync(join(root, 'docs/agent-tools.md'), 'utf8');
    // Under the repository so that `bgexec` resolves through tsconfig paths and the SDKs through node_modules.
    const dir = join(root, '.tmp', `doc-snippets-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    try {
      const files = Object.entries(CONTEXT).map(([heading, context], i) => {
        const code = snippet(doc, heading);
        expect(code, heading).not.toMatch(/\bas [A-Z]|\bas unknown\b|<[A-Z]\w*>\w/); // no casts
        const file = join(dir, `snippet${i}.ts`);
        // The snippet's own imports come first; the context declarations follow (hoisting makes them visible).
        writeFileSync(file, `${code}\n${COMMON}\n${context}\nexport {};\n`);
        return file;
      });
      const config = ts.readConfigFile(join(root, 'tsconfig.json'), (p) => ts.sys.readFile(p));
      const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
      const program = ts.createProgram(files, { ...parsed.options, noEmit: true });
      const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file === undefined || files.includes(d.file.fileName));
      const messages = diagnostics.map((d) => {
        const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
        return `${d.file?.fileName.slice(dir.length + 1) ?? ''}:${line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
      expect(messages).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // A whole-program typecheck of three SDKs: about 10 s idle, several times that on a loaded CI machine.
  }, 180_000);
});
