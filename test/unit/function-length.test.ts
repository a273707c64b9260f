/**
 * The code rule "no function much past 80 lines", kept: every function, method and arrow in apps/,
 * packages/ and clients/, measured from its first line to its last.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import ts from 'typescript';

const MAX_LINES = 80;
const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * Left long on purpose, each with its reason. A Fastify route plugin declares its resource's routes
 * one after another, each route a few lines that call a service: splitting it would scatter one
 * resource's URL table over files.
 */
const ALLOWED: Record<string, string> = {
  'apps/api/src/routes/jobs.ts jobsRoutes': 'route plugin: the /jobs resource, nine routes',
};

interface Measured {
  where: string;
  lines: number;
}

function functionName(node: ts.Node): string {
  const named = node as { name?: ts.Node };
  if (named.name) return named.name.getText();
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) return parent.name.getText();
  return '(anonymous)';
}

function measure(file: string): Measured[] {
  const source = ts.createSourceFile(file, readFileSync(`${ROOT}${file}`, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: Measured[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({ where: `${file} ${functionName(node)}`, lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const sources = execFileSync('git', ['ls-files', 'apps/*.ts', 'packages/*.ts', 'clients/*.ts'], {
  cwd: ROOT,
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => f && !f.endsWith('.d.ts'));

test(`no function in apps/, packages/ or clients/ runs past ${MAX_LINES} lines, but the ones named with a reason`, () => {
  assert.ok(sources.length > 50, `found the sources (${sources.length})`);
  const all = sources.flatMap(measure);
  const long = all.filter((m) => m.lines > MAX_LINES && !(m.where in ALLOWED));
  assert.deepEqual(
    long.map((m) => `${m.where}: ${m.lines} lines`),
    [],
  );
  // An allowance nobody needs any more is taken back.
  const stale = Object.keys(ALLOWED).filter((where) => !all.some((m) => m.where === where && m.lines > MAX_LINES));
  assert.deepEqual(stale, [], 'allowances for functions that are short now, or gone');
});
