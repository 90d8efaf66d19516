// The volume service on a scratch data-root: create, collisions, references, remove, prune,
// persistence across a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { volumeServiceFixture } from './fixtures/service.js';
import { Conflict, InvalidParameter, NotFound } from '../../src/errors.js';
import { ANONYMOUS_LABEL } from '../../src/volume/filters.js';
import { VolumeStore } from '../../src/volume/store.js';

const CID = 'c'.repeat(64);
const CID2 = 'd'.repeat(64);

test('create makes <root>/volumes/<name>/_data (0701/0755) and is idempotent', async (t) => {
  const f = await volumeServiceFixture();
  t.after(() => f.close());
  const v = await f.svc.create({ name: 'my-data', labels: { env: 'prod' } });
  assert.equal(v.name, 'my-data');
  assert.equal(v.driver, 'local');
  assert.equal(v.scope, 'local');
  assert.equal(v.mountpoint, path.join(f.dataRoot, 'volumes', 'my-data', '_data'));
  assert.match(v.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
  assert.equal(fs.statSync(path.dirname(v.mountpoint)).mode & 0o777, 0o701);
  assert.equal(fs.statSync(v.mountpoint).mode & 0o777, 0o755);
  fs.writeFileSync(path.join(v.mountpoint, 'keep'), 'x');
  // Same name again: the existing volume, new labels ignored, content untouched.
  const again = await f.svc.create({ name: 'my-data', driver: 'local', labels: { other: '1' } });
  assert.deepEqual(again.labels, { env: 'prod' });
  assert.equal(fs.readFileSync(path.join(v.mountpoint, 'keep'), 'utf8'), 'x');
  assert.deepEqual(
    (await f.svc.list()).map((x) => x.name),
    ['my-data'],
  );
  assert.deepEqual(
    f.seen.filter((e) => e.Type === 'volume').map((e) => `${e.Action} ${e.Actor.ID} ${e.Actor.Attributes.driver}`),
    ['create my-data local'],
  );
});

test('create without a name makes an anonymous 64-hex volume with the anonymous label', async (t) => {
  const f = await volumeServiceFixture();
  t.after(() => f.close());
  const v = await f.svc.create({});
  assert.match(v.name, /^[0-9a-f]{64}$/);
  assert.equal(v.anonymous, true);
  assert.deepEqual(v.labels, { [ANONYMOUS_LABEL]: '' });
  const named = await f.svc.create({ name: 'named' });
  assert.equal(named.anonymous, false);
  assert.deepEqual(named.labels, {});
});

test('bad names and options fail with create <name>: … and create nothing', async (t) => {
  const f = await volumeServiceFixture();
  t.after(() => f.close());
  await assert.rejects(
    f.svc.create({ name: 'a' }),
    (e: unknown) =>
      e instanceof InvalidParameter &&
      e.message === 'create a: volume name is too short, names should be at least two alphanumeric characters',
  );
  await assert.rejects(
    f.svc.create({ name: 'bad/name' }),
    /^InvalidParameter: create bad\/name: "bad\/name" includes invalid characters/,
  );
  await assert.rejects(f.svc.create({ name: 'o1', driverOpts: { foo: 'bar' } }), /create o1: invalid option: "foo"/);
  await assert.rejects(
    f.svc.create({ name: 'o2', driverOpts: { size: '10m' } }),
    /create o2: quota size requested but no quota support/,
  );
  assert.deepEqual(await f.svc.list(), []);
  assert.deepEqual(fs.readdirSync(path.join(f.dataRoot, 'volumes')), []);
});

test("a missing driver is NotFound with Docker's words; an existing name with another driver conflicts", async (t) => {
  const f = await volumeServiceFixture();
  t.after(() => f.close());
  await assert.rejects(
    f.svc.create({ name: 'ebs-vol', driver: 'rexray/ebs', driverOpts: { size: '100' } }),
    (e: unknown) =>
      e instanceof NotFound &&
      e.message === 'create ebs-vol: error looking up volume plugin rexray/ebs: plugin "rexray/ebs" not found',
  );
  assert.deepEqual(await f.svc.list(), []);
  await f.svc.create({ name: 'x1' });
  await assert.rejects(
    f.svc.create({ name: 'x1', driver: 'nope' }),
    /create x1: error looking up volume plugin nope: plugin "nope" not found/,
  );
});

test('remove: missing → get <name>: no such volume (force: fine); in use → names every container', async (t) => {
  const f = await volumeServiceFixture();
  t.after(() => f.close());
  await assert.rejects(
    f.svc.remove('nope'),
    (e: unknown) => e instanceof NotFound && e.message === 'get nope: no such volume',
  );
  await f.svc.remove('nope', { force: true });
  await assert.rejects(f.svc.get('nope'), /get nope: no such volume/);
  assert.throws(() => f.svc.reference('nope', CID), NotFound);

  const v = await f.svc.create({ name: 'busy' });
  f.svc.reference('busy', CID);
  f.svc.reference('busy', CID2);
  f.svc.reference('busy', CID);
  assert.deepEqual(f.svc.users('busy'), [CID, CID2]);
  for (const force of [false, true]) {
    await assert.rejects(
      f.svc.remove('busy', { force }),
      (e: unknown) => e instanceof Conflict && e.message === `remove busy: volume is in use - [${CID} ${CID2}]`,
    );
  }
  // References live in the database: a restart keeps them.
  await f.restart();
  assert.deepEqual(f.svc.users('busy'), [CID, CID2]);
  await assert.rejects(f.svc.remove('busy'), Conflict);
  f.svc.release('busy', CID);
  f.svc.release('busy', CID2);
  await f.svc.remove('busy');
  assert.equal(fs.existsSync(path.dirname(v.mountpoint)), false);
  await assert.rejects(f.svc.get('busy'), NotFound);
  assert.ok(f.seen.some((e) => e.Action === 'destroy' && e.Actor.ID === 'busy'));
});

test('prune: only anonymous unless all; skips referenced volumes and volumes with options; counts bytes', async (t) => {
  const f = await volumeServiceFixture();
  t.after(() => f.close());
  const anon = await f.svc.create({ labels: { lab: '1' } });
  fs.writeFileSync(path.join(anon.mountpoint, 'f'), Buffer.alloc(1000));
  fs.linkSync(path.join(anon.mountpoint, 'f'), path.join(anon.mountpoint, 'hardlink'));
  await f.svc.create({ name: 'unused', labels: { lab: '1' } });
  await f.svc.create({ name: 'inuse', labels: { lab: '1' } });
  await f.svc.create({ name: 'other' });
  await f.svc.create({ name: 'ram', labels: { lab: '1' }, driverOpts: { type: 'tmpfs', device: 'tmpfs' } });
  f.svc.reference('inuse', CID);

  const first = await f.svc.prune!(new Map([['label', ['lab=1']]]));
  assert.deepEqual(first, { deleted: [anon.name], spaceReclaimed: 1000 });
  const second = await f.svc.prune!(
    new Map([
      ['label', ['lab=1']],
      ['all', ['true']],
    ]),
  );
  assert.deepEqual(second.deleted, ['unused']);
  assert.deepEqual((await f.svc.list()).map((v) => v.name).sort(), ['inuse', 'other', 'ram']);
  await assert.rejects(f.svc.prune!(new Map([['all', ['maybe']]])), /invalid filter 'all=maybe'/);
});

test('a crash between moving a removed volume away and dropping its row is finished at startup', async (t) => {
  const f = await volumeServiceFixture();
  t.after(() => f.close());
  const v = await f.svc.create({ name: 'half-gone' });
  await f.svc.create({ name: 'kept' });
  fs.rmSync(path.dirname(v.mountpoint), { recursive: true });
  // A directory no row owns: empty → swept; with data → adopted.
  fs.mkdirSync(path.join(f.dataRoot, 'volumes', 'orphan-empty', '_data'), { recursive: true });
  fs.mkdirSync(path.join(f.dataRoot, 'volumes', 'orphan-data', '_data'), { recursive: true });
  fs.writeFileSync(path.join(f.dataRoot, 'volumes', 'orphan-data', '_data', 'f'), 'x');
  await f.restart();
  assert.deepEqual(
    (await f.svc.list()).map((x) => x.name),
    ['kept', 'orphan-data'],
  );
  assert.equal(fs.existsSync(path.join(f.dataRoot, 'volumes', 'orphan-empty')), false);
});

test('one prune at a time: a second one while the first runs is a conflict', async (t) => {
  const f = await volumeServiceFixture();
  t.after(() => f.close());
  await f.svc.create({});
  const first = f.svc.prune!(new Map());
  await assert.rejects(
    f.svc.prune!(new Map()),
    (e: unknown) => e instanceof Conflict && e.message === 'a prune operation is already running',
  );
  assert.equal((await first).deleted.length, 1);
  assert.deepEqual((await f.svc.prune!(new Map())).deleted, []);
});

test('volumes, labels, options and the anonymous flag survive a restart', async (t) => {
  const f = await volumeServiceFixture();
  t.after(() => f.close());
  const anon = await f.svc.create({ labels: { x: 'y' } });
  const before = await f.svc.create({
    name: 'ram',
    labels: { a: 'b' },
    driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' },
  });
  await f.restart();
  assert.deepEqual(await f.svc.get('ram'), before);
  const again = await f.svc.get(anon.name);
  assert.equal(again.anonymous, true);
  assert.deepEqual(again.labels, { x: 'y', [ANONYMOUS_LABEL]: '' });
});

test('rename keeps content, labels and options; refuses names in use, bad names, used volumes', async (t) => {
  const f = await volumeServiceFixture();
  t.after(() => f.close());
  const v = await f.svc.create({ name: 'old-name', labels: { team: 'a' } });
  fs.writeFileSync(path.join(v.mountpoint, 'data.txt'), 'kept');
  await f.svc.create({ name: 'taken' });
  await assert.rejects(
    f.svc.rename!('old-name', 'taken'),
    (e: unknown) => e instanceof Conflict && e.message === 'rename old-name: a volume named taken already exists',
  );
  await assert.rejects(
    f.svc.rename!('old-name', 'a'),
    (e: unknown) =>
      e instanceof InvalidParameter &&
      e.message === 'rename old-name: volume name is too short, names should be at least two alphanumeric characters',
  );
  await assert.rejects(f.svc.rename!('missing', 'other'), (e: unknown) => e instanceof NotFound);
  f.svc.reference('old-name', CID);
  await assert.rejects(
    f.svc.rename!('old-name', 'new-name'),
    (e: unknown) => e instanceof Conflict && e.message === `rename old-name: volume is in use - [${CID}]`,
  );
  f.svc.release('old-name', CID);

  const r = await f.svc.rename!('old-name', 'new-name');
  assert.equal(r.name, 'new-name');
  assert.deepEqual(r.labels, { team: 'a' });
  assert.equal(r.createdAt, v.createdAt);
  assert.equal(fs.readFileSync(path.join(r.mountpoint, 'data.txt'), 'utf8'), 'kept');
  assert.equal(fs.existsSync(path.dirname(v.mountpoint)), false);
  await assert.rejects(f.svc.get('old-name'), (e: unknown) => e instanceof NotFound);
  assert.deepEqual(
    f.seen.filter((e) => e.Action === 'rename').map((e) => `${e.Actor.ID} ${e.Actor.Attributes.oldName}`),
    ['new-name old-name'],
  );

  // An anonymous volume given a name becomes a named one (default prune no longer takes it).
  const anon = await f.svc.create({});
  const named = await f.svc.rename!(anon.name, 'chosen');
  assert.equal(named.anonymous, false);
  assert.deepEqual(named.labels, {});
  assert.deepEqual((await f.svc.prune!(new Map())).deleted, []);
  await f.restart();
  assert.deepEqual(
    (await f.svc.list()).map((x) => x.name),
    ['chosen', 'new-name', 'taken'],
  );
});

test('a rename interrupted after its row was committed is finished at startup', async (t) => {
  const f = await volumeServiceFixture();
  t.after(() => f.close());
  const v = await f.svc.create({ name: 'before', labels: { k: 'v' } });
  fs.writeFileSync(path.join(v.mountpoint, 'f'), 'x');
  // The row and the journal line are committed; the daemon dies before the directory moves.
  const store = new VolumeStore(f.db);
  store.beginRename('before', { ...store.get('before')!, name: 'after' });
  await f.restart();
  assert.deepEqual(
    (await f.svc.list()).map((x) => `${x.name} ${x.labels.k}`),
    ['after v'],
  );
  assert.equal(fs.readFileSync(path.join(f.dataRoot, 'volumes', 'after', '_data', 'f'), 'utf8'), 'x');
  assert.deepEqual(new VolumeStore(f.db).pendingRenames(), []);
});
