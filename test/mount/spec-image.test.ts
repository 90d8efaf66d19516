// Vectors for image mounts in the mount parser (Docker 28's checks and words, API 1.48):
// read-only whatever the docker CLI sends, read-write only when ReadOnly is sent as false.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMountSpecs } from '../../src/mount/spec.js';
import { InvalidParameter } from '../../src/errors.js';

const parse = (mount: Record<string, unknown>, v = '1.48') => parseMountSpecs({ Mounts: [mount] }, v);
const refused = (mount: Record<string, unknown>, message: string, v = '1.48') =>
  assert.throws(
    () => parse(mount, v),
    (e: unknown) => e instanceof InvalidParameter && e.message === message,
  );

test('an image mount is read-only unless ReadOnly is sent as false, with its subpath and rprivate', () => {
  const [ro] = parse({ Type: 'image', Source: 'alpine', Target: '/a/', ImageOptions: { Subpath: 'etc' } });
  assert.deepEqual(ro, {
    type: 'image',
    source: 'alpine',
    destination: '/a',
    readOnly: true,
    mode: '',
    propagation: 'rprivate',
    origin: 'mounts',
    subpath: 'etc',
  });
  assert.equal(parse({ Type: 'image', Source: 'alpine', Target: '/a', ReadOnly: true })[0]!.readOnly, true);
  assert.equal(parse({ Type: 'image', Source: 'alpine', Target: '/a', ReadOnly: false })[0]!.readOnly, false);
});

test('image mounts are refused in Docker words: before 1.48, without a source, with a subpath leaving the image, with other options', () => {
  const img = { Type: 'image', Source: 'alpine', Target: '/a' };
  refused(img, 'Mount type "Image" needs API v1.48 or newer', '1.47');
  refused(img, 'Mount type "Image" needs API v1.48 or newer', '1.41');
  refused({ Type: 'image', Target: '/a' }, 'invalid mount config for type "image": field Source must not be empty');
  for (const sub of ['../x', '/etc', 'a/../../b']) {
    refused(
      { ...img, ImageOptions: { Subpath: sub } },
      'invalid mount config for type "image": subpath must be a relative path within the volume',
    );
  }
  refused({ ...img, BindOptions: {} }, 'BindOptions must not be specified on mount type "image"');
  refused({ ...img, VolumeOptions: {} }, 'VolumeOptions must not be specified on mount type "image"');
  refused(
    { Type: 'bind', Source: '/tmp', Target: '/a', ImageOptions: {} },
    'invalid mount config for type "bind": field ImageOptions must not be specified',
  );
  refused(
    { Type: 'tmpfs', Target: '/a', ImageOptions: {} },
    'invalid mount config for type "tmpfs": field ImageOptions must not be specified',
  );
  assert.throws(
    () => parseMountSpecs({ Mounts: [img, { ...img, Source: 'busybox' }] }, '1.48'),
    /Duplicate mount point: \/a/,
  );
});
