import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkSizes, SbxApiError, SbxClient } from '@sbx/client';

/** A fetch that answers GET /info with these limits and POSTs with `post`, counting the POSTs. */
function fakeServer(post: () => Response, limits = { code_bytes: 10, input_bytes: 20 }) {
  const posts: string[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    if (init?.method === 'POST') {
      posts.push(String(input));
      return post();
    }
    return Response.json({ limits });
  };
  return { posts, fetch };
}
const refused = (code: string, message?: RegExp) => (e: unknown) =>
  e instanceof SbxApiError && e.statusCode === 413 && e.code === code && (!message || message.test(e.message));

test('known limits refuse oversized code and input before anything is sent, as the server would', async () => {
  const server = fakeServer(() => Response.json({ id: 'x', state: 'queued' }, { status: 202 }));
  const sbx = new SbxClient({ baseUrl: 'http://sbx.invalid', fetch: server.fetch });
  assert.equal(await sbx.submit({ code: 'x'.repeat(50) }), 'x', 'nothing is known yet: the server decides');
  await sbx.info();
  assert.deepEqual(sbx.limits, { codeBytes: 10, inputBytes: 20 });
  await assert.rejects(
    sbx.run({ code: "print('é')" }),
    refused('code_too_large', /^code is 11 bytes; the maximum is 10$/),
  );
  await assert.rejects(
    sbx.submit({ code: 'p', stdin: 'x'.repeat(15), args: ['abc'], tests: [{ stdin: '', expected_output: 'xyz' }] }),
    refused('stdin_too_large', /21 bytes together; the maximum is 20$/),
  );
  assert.equal(await sbx.submit({ code: 'x'.repeat(10), stdin: 'y'.repeat(20) }), 'x', 'at the maxima is fine');
  assert.equal(server.posts.length, 2, 'the refused ones were never sent');
});

test('limits given as an option work without asking /info', () => {
  assert.throws(() => checkSizes({ code: 'é'.repeat(6) }, { codeBytes: 11 }), refused('code_too_large'));
  assert.doesNotThrow(() => checkSizes({ code: 'x'.repeat(99), stdin: 'y'.repeat(99) }, {}));
  assert.throws(() => checkSizes({ code: 'p', args: ['\ud800'] }, { inputBytes: 2 }), refused('stdin_too_large'));
});

test('a 413 from the server is raised at once, never retried', async () => {
  const server = fakeServer(() =>
    Response.json({ statusCode: 413, code: 'payload_too_large', message: 'too big' }, { status: 413 }),
  );
  const sbx = new SbxClient({ baseUrl: 'http://sbx.invalid', fetch: server.fetch });
  await assert.rejects(sbx.run({ code: 'print(1)' }, { retries: 3 }), refused('payload_too_large'));
  assert.equal(server.posts.length, 1);
});
