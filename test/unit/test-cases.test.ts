import assert from 'node:assert/strict';
import { test } from 'node:test';
import { outputMatches } from '@sbx/shared';
import { splitTestOutputs } from '@sbx/worker';

const opts = (comparator: 'exact' | 'trailing_whitespace' | 'float', floatTolerance = 1e-6) => ({
  comparator,
  floatTolerance,
});

test('exact compares bytes', () => {
  assert.ok(outputMatches('a\n', 'a\n', opts('exact')));
  assert.ok(!outputMatches('a', 'a\n', opts('exact')));
});

test('trailing whitespace ignores line-end spaces, CRLF and trailing blank lines, nothing else', () => {
  const o = opts('trailing_whitespace');
  assert.ok(outputMatches('a  \r\nb\n\n\n', 'a\nb', o));
  assert.ok(!outputMatches(' a\n', 'a\n', o), 'leading space matters');
  assert.ok(!outputMatches('a\n\nb\n', 'a\nb\n', o), 'inner blank lines matter');
  assert.ok(!outputMatches('', 'x', o));
});

test('float accepts numbers within relative tolerance and compares other tokens exactly', () => {
  const o = opts('float', 1e-4);
  assert.ok(outputMatches('0.333333\n', '0.33333', o));
  assert.ok(outputMatches('1e3 x', '1000.0 x', o));
  assert.ok(!outputMatches('0.67', '0.666666', o));
  assert.ok(!outputMatches('1 2', '1 2 3', o));
  assert.ok(!outputMatches('1 y', '1 x', o));
  assert.ok(outputMatches('inf nan', 'Infinity NaN', o));
  assert.ok(!outputMatches('inf', '1e308', o));
});

test('outputs split per test at the nonce markers; a test cut short keeps its partial output', () => {
  const n = 'abc';
  const report = (i: number, exit = 0) =>
    `\n\x1esbx-report:${n}:${JSON.stringify({ v: 1, timed_out: false, exit_code: exit, signal: null, time: 0.1, cpu_time: 0.1, max_rss_kb: 1, memory_error: false, ended_itself: true, violation: null, test: i })}\n`;
  const stdout = Buffer.from(`one\n\n\x1esbx-end:${n}:0\ntwo\n\x1esbx-end:${n}:1\npartial`);
  const stderr = Buffer.from(`${report(0)}warn${report(1, 3)}dying`);
  const slices = splitTestOutputs(stdout, stderr, n, 4);
  assert.equal(slices.length, 3);
  assert.equal(slices[0]?.stdout.toString(), 'one\n');
  assert.equal(slices[0]?.stderr.toString(), '');
  assert.equal(slices[1]?.stdout.toString(), 'two');
  assert.equal(slices[1]?.stderr.toString(), 'warn');
  assert.equal(slices[1]?.report?.exit_code, 3);
  assert.equal(slices[2]?.stdout.toString(), 'partial');
  assert.equal(slices[2]?.stderr.toString(), 'dying');
  assert.equal(slices[2]?.report, null);
});

test('a forged end marker without the nonce does not split', () => {
  const slices = splitTestOutputs(Buffer.from('a\n\x1esbx-end:guess:0\nb'), Buffer.from(''), 'real', 1);
  assert.equal(slices.length, 1);
  assert.equal(slices[0]?.report, null);
  assert.equal(slices[0]?.stdout.toString(), 'a\n\x1esbx-end:guess:0\nb');
});
