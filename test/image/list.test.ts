import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { listImages, pathMatch } from '../../src/image/list.js';
import { matchLabels } from '../../src/util/label-filter.js';
import { loadImages } from '../../src/image/load.js';
import { dockerArchive } from './fixture-archive.js';
import { openStore, removeStoreDir } from './store-helper.js';

test('reference patterns follow Go path.Match', () => {
  assert.ok(pathMatch('alp*', 'alpine:latest'));
  assert.ok(pathMatch('alpine', 'alpine'));
  assert.ok(!pathMatch('alpine', 'alpine:latest'));
  assert.ok(!pathMatch('*', 'foo/bar'));
  assert.ok(pathMatch('*/*', 'foo/bar'));
  assert.ok(pathMatch('a?c:[0-9]', 'abc:7'));
});

test('label filters: key, or key=value', () => {
  assert.ok(matchLabels(['a'], { a: '1' }));
  assert.ok(matchLabels(['a=1'], { a: '1' }));
  assert.ok(!matchLabels(['a=2'], { a: '1' }));
  assert.ok(!matchLabels(['b'], null));
  assert.ok(matchLabels(undefined, null));
});

test('list: dangling, reference and label filters; <none> for untagged images', async () => {
  const t = await openStore();
  try {
    const tagged = await dockerArchive({ tag: 'one:1', label: 'tagged' });
    const untagged = await dockerArchive({ label: 'untagged' });
    for (const a of [tagged, untagged])
      await loadImages(t.store, Readable.from([a.tar]), { stream: () => {}, progress: () => {} });
    const ids = (f: Record<string, string[]>) =>
      listImages(t.store, {
        all: false,
        filters: new Map(Object.entries(f)),
        sharedSize: false,
        containerCount: false,
      }).map((e) => e.Id);
    assert.deepEqual(ids({}).sort(), [tagged.id, untagged.id].sort());
    assert.deepEqual(ids({ dangling: ['true'] }), [untagged.id]);
    assert.deepEqual(ids({ dangling: ['false'] }), [tagged.id]);
    assert.deepEqual(ids({ reference: ['one'] }), [tagged.id]);
    assert.deepEqual(ids({ label: ['test.fixture=untagged'] }), [untagged.id]);
    assert.throws(() => ids({ dangling: ['maybe'] }), /Invalid filter 'dangling=maybe'/);
    assert.throws(() => ids({ bogus: ['x'] }), /Invalid filter 'bogus'/);
    const none = listImages(t.store, {
      all: false,
      filters: new Map([['dangling', ['true']]]),
      sharedSize: true,
      containerCount: false,
    })[0]!;
    assert.deepEqual(none.RepoTags, ['<none>:<none>']);
    assert.deepEqual(none.RepoDigests, ['<none>@<none>']);
    assert.equal(none.SharedSize, 31, 'both images share all three layers');
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});
