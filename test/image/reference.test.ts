import { test } from 'node:test';
import assert from 'node:assert/strict';
import { familiar, isImageIDPrefix, normalizeTagged, parseNormalizedNamed } from '../../src/image/reference.js';

test('short names normalize to docker.io/library with latest, and print back familiar', () => {
  assert.equal(normalizeTagged('alpine'), 'docker.io/library/alpine:latest');
  assert.equal(normalizeTagged('alpine:3.19'), 'docker.io/library/alpine:3.19');
  assert.equal(normalizeTagged('docker.io/library/alpine:latest'), 'docker.io/library/alpine:latest');
  assert.equal(normalizeTagged('index.docker.io/foo/bar'), 'docker.io/foo/bar:latest');
  assert.equal(normalizeTagged('localhost:5000/app:1'), 'localhost:5000/app:1');
  assert.equal(normalizeTagged('localhost/app'), 'localhost/app:latest');
  assert.equal(normalizeTagged('quay.io/org/app:v1.2'), 'quay.io/org/app:v1.2');
  assert.equal(familiar('docker.io/library/alpine:latest'), 'alpine:latest');
  assert.equal(familiar('docker.io/foo/bar:1'), 'foo/bar:1');
  assert.equal(familiar('quay.io/org/app:v1'), 'quay.io/org/app:v1');
});

test('bad references fail with distribution/reference messages', () => {
  assert.throws(() => parseNormalizedNamed('Alpine'), /invalid reference format: repository name must be lowercase/);
  assert.throws(() => parseNormalizedNamed('alpine:bad tag'), /invalid reference format/);
  assert.throws(
    () => parseNormalizedNamed('a'.repeat(64).replace(/a/g, 'f')),
    /cannot specify 64-byte hexadecimal strings/,
  );
  assert.throws(() => parseNormalizedNamed('foo//bar'), /invalid reference format/);
  assert.throws(() => parseNormalizedNamed(''), /invalid reference format/);
});

test('digest references keep their digest', () => {
  const d = 'sha256:' + 'a'.repeat(64);
  assert.deepEqual(parseNormalizedNamed(`alpine@${d}`), {
    name: 'docker.io/library/alpine',
    tag: undefined,
    digest: d,
  });
});

test('ID prefixes match with or without sha256:', () => {
  const id = 'sha256:e19073b61806e6e059e26bb299e9973f8e8c69f7f6baf19ef3e6987ab40843b5';
  assert.ok(isImageIDPrefix(id, 'e19073b6'));
  assert.ok(isImageIDPrefix(id, 'sha256:e19'));
  assert.ok(!isImageIDPrefix(id, 'alpine'));
  assert.ok(!isImageIDPrefix(id, 'e2'));
});
