import assert from 'node:assert/strict';
import { test } from 'node:test';
import { artifactUrl, type RunResult, withoutArtifactData } from '@sbx/shared';

test('artifact URLs escape each segment of the name and keep its folders', () => {
  assert.equal(artifactUrl('j-1', 'figure-1.png'), '/jobs/j-1/artifacts/figure-1.png');
  assert.equal(artifactUrl('j-1', 'data/a b#?.csv'), '/jobs/j-1/artifacts/data/a%20b%23%3F.csv');
});

test("a webhook's result names, sizes and links its artifacts, without their content", () => {
  const result = {
    id: 'j',
    status: 'ok',
    artifacts: [
      { name: 'figure-1.png', mime: 'image/png', bytes: 3, data: 'AAAA', url: '/jobs/j/artifacts/figure-1.png' },
    ],
  } as unknown as RunResult;
  assert.deepEqual(withoutArtifactData(result).artifacts, [
    { name: 'figure-1.png', mime: 'image/png', bytes: 3, url: '/jobs/j/artifacts/figure-1.png' },
  ]);
  assert.equal(result.artifacts?.[0]?.data, 'AAAA', 'the stored result keeps its data');
  const none = { id: 'j', status: 'ok' } as unknown as RunResult;
  assert.equal(withoutArtifactData(none), none);
});
