import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions, splitVersion, API_VERSION } from '../../src/api/version.js';
import { Router } from '../../src/api/router.js';

test('versions compare numerically, not as strings', () => {
  assert.equal(compareVersions('1.9', '1.41'), -1);
  assert.equal(compareVersions('1.41', '1.41'), 0);
  assert.equal(compareVersions('1.50', '1.42'), 1);
});

test('a versioned path is split and checked against the supported range', () => {
  assert.deepEqual(splitVersion('/v1.41/containers/json'), { version: '1.41', path: '/containers/json' });
  assert.deepEqual(splitVersion('/containers/json'), { version: API_VERSION, path: '/containers/json' });
  assert.throws(
    () => splitVersion('/v1.12/info'),
    /client version 1.12 is too old. Minimum supported API version is 1.24/,
  );
  assert.throws(() => splitVersion('/v9.99/info'), /client version 9.99 is too new. Maximum supported API version is/);
});

test('the router matches segments, rest-of-path names, and tells 404 from 405', () => {
  const r = new Router();
  r.get('/images/{name*}/json', () => 'img');
  r.post('/containers/{id}/start', () => 'start');
  const m = r.match('GET', '/images/library/alpine:latest/json');
  assert.equal(m?.params.name, 'library/alpine:latest');
  assert.equal(r.match('POST', '/containers/abc/start')?.params.id, 'abc');
  assert.equal(r.match('GET', '/containers/abc/start'), null);
  assert.equal(r.match('GET', '/nothing'), undefined);
  assert.ok(r.match('HEAD', '/images/x/json'), 'HEAD falls back to GET');
});
