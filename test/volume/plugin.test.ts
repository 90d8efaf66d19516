// Volume plugins over Docker's v1 protocol, end to end with the test plugin on a unix socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { volumeServiceFixture } from './fixtures/service.js';
import { startTestPlugin } from './fixtures/volume-plugin.js';
import { Conflict } from '../../src/errors.js';

const A = 'a'.repeat(64);

test('create, inspect, mount, unmount and remove through a plugin socket', async (t) => {
  const f = await volumeServiceFixture();
  const plugin = await startTestPlugin(path.join(f.dir, 'plugins'), 'testdrv', { scope: 'global' });
  t.after(async () => {
    await plugin.close();
    await f.close();
  });

  assert.deepEqual(f.svc.pluginNames!(), [], 'plugins activate lazily');
  const v = await f.svc.create({
    name: 'remote',
    driver: 'testdrv',
    driverOpts: { speed: 'fast' },
    labels: { a: 'b' },
  });
  assert.equal(v.driver, 'testdrv');
  assert.equal(v.scope, 'global');
  assert.equal(v.mountpoint, path.join(plugin.dataDir, 'remote'));
  assert.deepEqual(v.options, { speed: 'fast' });
  assert.deepEqual(v.status, { origin: 'test-plugin' });
  assert.deepEqual(f.svc.pluginNames!(), ['testdrv']);
  assert.ok(plugin.calls.every((c) => c.accept === 'application/vnd.docker.plugins.v1+json'));
  const methods = plugin.calls.map((c) => c.method);
  assert.deepEqual(methods.slice(0, 4), [
    'Plugin.Activate',
    'VolumeDriver.Capabilities',
    'VolumeDriver.Get',
    'VolumeDriver.Create',
  ]);
  assert.deepEqual(plugin.calls[3]!.body, { Name: 'remote', Opts: { speed: 'fast' } });

  // Same name, same driver: the existing one, no second Create.
  await f.svc.create({ name: 'remote', driver: 'testdrv' });
  assert.equal(plugin.calls.filter((c) => c.method === 'VolumeDriver.Create').length, 1);
  // Same name, other driver.
  await assert.rejects(
    f.svc.create({ name: 'remote', driver: 'local' }),
    (e: unknown) =>
      e instanceof Conflict &&
      e.message === "create remote: driver 'testdrv' already has volume 'remote': volume name must be unique",
  );

  const p = await f.svc.mount('remote', A);
  assert.equal(p, path.join(plugin.dataDir, 'remote'));
  assert.deepEqual([...plugin.mounts.get('remote')!], [A]);
  fs.writeFileSync(path.join(p, 'f'), 'via plugin');
  await f.svc.unmount('remote', A);
  assert.equal(plugin.mounts.get('remote')!.size, 0);
  const unmountCall = plugin.calls.find((c) => c.method === 'VolumeDriver.Unmount')!;
  assert.deepEqual(unmountCall.body, { Name: 'remote', ID: A });

  await f.svc.remove('remote');
  assert.equal(fs.existsSync(path.join(plugin.dataDir, 'remote')), false);
  assert.deepEqual(plugin.calls.at(-1)!.body, { Name: 'remote' });
  assert.equal(plugin.calls.at(-1)!.method, 'VolumeDriver.Remove');
  assert.deepEqual(await f.svc.list(), []);
});

test("a plugin's Err fails the call with its text; nothing is recorded", async (t) => {
  const f = await volumeServiceFixture();
  const plugin = await startTestPlugin(path.join(f.dir, 'plugins'), 'testdrv');
  t.after(async () => {
    await plugin.close();
    await f.close();
  });
  await assert.rejects(
    f.svc.create({ name: 'nope', driver: 'testdrv', driverOpts: { fail: '1' } }),
    /^SystemError: create nope: refusing to create nope$/,
  );
  assert.deepEqual(await f.svc.list(), []);
});

test('a plugin still mounted refuses removal, force purges the record anyway', async (t) => {
  const f = await volumeServiceFixture();
  const plugin = await startTestPlugin(path.join(f.dir, 'plugins'), 'testdrv');
  t.after(async () => {
    await plugin.close();
    await f.close();
  });
  await f.svc.create({ name: 'stuck', driver: 'testdrv' });
  await f.svc.mount('stuck', A);
  await assert.rejects(f.svc.remove('stuck'), /remove stuck: stuck is mounted/);
  await f.svc.remove('stuck', { force: true });
  assert.deepEqual(await f.svc.list(), []);
});

test('.spec files point at a unix:// address; subdirectory sockets are found; names cannot climb out', async (t) => {
  const f = await volumeServiceFixture({ pluginDirs: [] });
  const sockDir = path.join(f.dir, 'sockets');
  const specDir = path.join(f.dir, 'specs');
  const plugin = await startTestPlugin(path.join(sockDir, 'vendor'), 'ebs');
  t.after(async () => {
    await plugin.close();
    await f.close();
  });
  fs.mkdirSync(specDir);
  fs.writeFileSync(path.join(specDir, 'viaspec.spec'), `unix://${plugin.socket}\n`);
  const { createVolumeService } = await import('../../src/volume/service.js');
  const svc = await createVolumeService({
    db: f.db,
    dataRoot: f.dataRoot,
    log: { debug() {}, info() {}, warn() {}, error() {} },
    events: f.events,
    pluginDirs: [sockDir, specDir],
  });
  assert.equal((await svc.create({ name: 'v1', driver: 'vendor/ebs' })).driver, 'vendor/ebs');
  assert.equal((await svc.create({ name: 'v2', driver: 'viaspec' })).driver, 'viaspec');
  await assert.rejects(svc.create({ name: 'v3', driver: '../specs/viaspec' }), /plugin "..\/specs\/viaspec" not found/);
  await svc.remove('v1');
  await svc.remove('v2');
});
