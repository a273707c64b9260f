import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RouteMethods } from '@sbx/api/http/route-methods';

test('the methods of every route whose pattern matches the path', () => {
  const routes = new RouteMethods();
  routes.add('/jobs', 'POST');
  routes.add('/jobs', ['GET', 'HEAD']);
  routes.add('/jobs/:id', 'get');
  routes.add('/jobs/:id', 'DELETE');
  routes.add('/jobs/batch', 'POST');
  routes.add('/jobs/:id/webhook/redeliver', 'POST');
  routes.add('/docs/static/*', 'GET');
  assert.deepEqual(routes.allowed('/jobs'), ['GET', 'HEAD', 'POST']);
  assert.deepEqual(routes.allowed('/jobs/abc'), ['DELETE', 'GET']);
  assert.deepEqual(routes.allowed('/jobs/batch'), ['DELETE', 'GET', 'POST'], 'a literal and a parameter both match');
  assert.deepEqual(routes.allowed('/jobs/'), ['DELETE', 'GET'], 'an empty parameter still matches, as in the router');
  assert.deepEqual(routes.allowed('/jobs/a/webhook/redeliver'), ['POST']);
  assert.deepEqual(routes.allowed('/docs/static/a/b.css'), ['GET']);
  assert.deepEqual(routes.allowed('/jobs/a/b'), []);
  assert.deepEqual(routes.allowed('/nope'), []);
  assert.deepEqual(routes.allowed('/jobsx'), []);
});

test('a catch-all route does not make every path a known one', () => {
  const routes = new RouteMethods();
  routes.add('*', 'OPTIONS');
  routes.add('/a.b', 'GET');
  assert.deepEqual(routes.allowed('/nope'), []);
  assert.deepEqual(routes.allowed('/aXb'), [], 'literal characters are not patterns');
});
