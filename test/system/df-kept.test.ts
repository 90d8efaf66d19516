// system df keeps its answer between requests: each change a user can make shows in the next one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from '../container/busybox-image.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  const tar = await busyboxArchive('dfkept:latest');
  const r = spawnSync('docker', ['load'], { input: tar, env: { ...process.env, DOCKER_HOST: d.host } });
  assert.equal(r.status, 0, String(r.stderr));
});
after(async () => {
  d.docker(['rm', '-f', 'kc1', 'kc2']);
  d.docker(['volume', 'rm', '-f', 'kv1']);
  d.docker(['rmi', '-f', 'dfkept:other']);
  await d.stop();
});

interface Df {
  Images: { RepoTags: string[]; Containers: number }[];
  Containers: { Names: string[]; State: string; Status: string; SizeRw: number }[];
  Volumes: { Name: string; UsageData: { Size: number; RefCount: number } }[];
}

async function df(query = ''): Promise<Df> {
  const r = await d.request('GET', `/v1.41/system/df${query}`);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Df;
}

function ok(args: string[]): string {
  const r = d.docker(args);
  assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

test('containers, volumes and images made, changed or removed show in the next system df', async () => {
  await df();
  await df();
  ok(['create', '--name', 'kc1', 'dfkept', 'sh', '-c', 'head -c 5000 /dev/zero > /f']);
  let u = await df();
  const kc1 = () => u.Containers.find((c) => c.Names.includes('/kc1'));
  assert.equal(kc1()?.State, 'created', 'a created container');
  assert.equal(
    u.Images.find((i) => i.RepoTags.includes('dfkept:latest'))?.Containers,
    1,
    "the image's container count",
  );

  ok(['start', '-a', 'kc1']);
  u = await df();
  assert.equal(kc1()?.State, 'exited', 'a container that ran');
  assert.equal(kc1()?.SizeRw, 5000, 'with what it wrote');

  ok(['rename', 'kc1', 'kc2']);
  u = await df();
  assert.ok(u.Containers.some((c) => c.Names.includes('/kc2')) && !kc1(), 'a rename');

  ok(['volume', 'create', 'kv1']);
  u = await df();
  assert.equal(u.Volumes.find((v) => v.Name === 'kv1')?.UsageData.RefCount, 0, 'a new volume');
  ok(['run', '--rm', '-v', 'kv1:/v', 'dfkept', 'sh', '-c', 'head -c 3000 /dev/zero > /v/f']);
  u = await df();
  assert.equal(u.Volumes.find((v) => v.Name === 'kv1')?.UsageData.Size, 3000, 'what a container wrote into it');

  ok(['tag', 'dfkept:latest', 'dfkept:other']);
  u = await df();
  assert.ok(
    u.Images.some((i) => i.RepoTags.includes('dfkept:other')),
    'a new tag',
  );
  ok(['rmi', 'dfkept:other']);
  u = await df();
  assert.ok(!u.Images.some((i) => i.RepoTags.includes('dfkept:other')), 'an untag');

  ok(['rm', 'kc2']);
  ok(['volume', 'rm', 'kv1']);
  u = await df();
  assert.equal(u.Containers.length, 0, 'a removed container');
  assert.ok(!u.Volumes.some((v) => v.Name === 'kv1'), 'a removed volume');
  const volumesOnly = await df('?type=volume');
  assert.equal(volumesOnly.Containers, undefined, 'type= has its own answer');
  assert.ok(Array.isArray(volumesOnly.Volumes));
});

test("a kept answer's STATUS is as fresh as a new one", async () => {
  ok(['run', '--name', 'kc1', '--network', 'none', 'dfkept', 'true']);
  // The first answer after the run takes the new figures; the second is the one kept.
  await df();
  const first = (await df()).Containers.find((c) => c.Names.includes('/kc1'))!;
  assert.match(first.Status, /^Exited \(0\) (Less than a second|\d+ seconds?) ago$/);
  // Two seconds on, the seconds figure has moved on: the kept answer was not sent again.
  await new Promise((r) => setTimeout(r, 2100));
  const later = (await df()).Containers.find((c) => c.Names.includes('/kc1'))!;
  assert.notEqual(later.Status, first.Status);
});
