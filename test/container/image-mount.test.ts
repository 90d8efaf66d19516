// Image mounts (--mount type=image, API 1.48) through the docker CLI and the API: another
// image's layers at a path, read-only (Docker) or over a writable layer of the container's
// own (ReadOnly sent as false, Podman's form); an image-subpath that cannot leave the image;
// the image in use for rmi and df; nothing left mounted or stored after stop, a failed start
// and rm.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { mountsUnder, ok, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';
import { dockerArchive, layeredLayers, makeTar } from '../image/fixture-archive.js';

let d: TestDaemon;
let layeredId = '';
const staging = () => path.join(d.dataRoot, 'tmp', 'mounts');
const containerCount = () => {
  const r = ok(d.docker(['ps', '-aq', '--no-trunc']), 'ps');
  return r.trim() === '' ? 0 : r.trim().split('\n').length;
};

before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:test'));
  ok(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]), 'load busybox');
  // Three layers with a whiteout and an opaque directory (so overlay2 stacks them), and a fourth
  // with links: one staying inside the image, two leading out of it.
  const links = await makeTar([
    { name: 'etcl', type: 'symlink', linkname: 'etc' },
    { name: 'esc', type: 'symlink', linkname: '/' },
    { name: 'up', type: 'symlink', linkname: '../../../../../../..' },
  ]);
  const archive = await dockerArchive({ tag: 'layered:test', layers: [...(await layeredLayers()), links] });
  layeredId = archive.id;
  fs.writeFileSync(path.join(d.dir, 'layered.tar'), archive.tar);
  ok(d.docker(['load', '-i', path.join(d.dir, 'layered.tar')]), 'load layered');
});

after(async () => {
  await d?.stop();
});

test('the docker CLI mounts an image read-only, its layers merged, and nothing stays mounted after the run', () => {
  const r = d.docker([
    'run',
    '--rm',
    '--mount',
    'type=image,source=layered:test,target=/img',
    'bb:test',
    'sh',
    '-c',
    'ls /img /img/etc; cat /img/b.txt; touch /img/x 2>&1; echo rc=$?',
  ]);
  assert.equal(r.status, 0, r.stderr);
  // Layer three made etc/ opaque (only "new"), layer two whited out a.txt.
  assert.match(r.stdout, /\/img\/etc:\nnew\n/);
  assert.doesNotMatch(r.stdout, /a\.txt/);
  assert.match(r.stdout, /bee\n/);
  assert.match(r.stdout, /Read-only file system/);
  assert.match(r.stdout, /rc=1/);
  assert.deepEqual(mountsUnder(staging()), [], 'the staging mounts went with the container');
  assert.equal(containerCount(), 0);
});

test('image-subpath mounts a directory of the image; links may not lead out of it', () => {
  const sub = d.docker([
    'run',
    '--rm',
    '--mount',
    'type=image,source=layered:test,target=/img,image-subpath=etcl',
    'bb:test',
    'ls',
    '/img',
  ]);
  assert.equal(sub.status, 0, sub.stderr);
  assert.equal(sub.stdout, 'new\n');
  for (const escape of ['esc', 'up', 'up/etc', 'esc/etc']) {
    const r = d.docker([
      'run',
      '--rm',
      '--mount',
      `type=image,source=layered:test,target=/img,image-subpath=${escape}`,
      'bb:test',
      'ls',
      '/img',
    ]);
    assert.notEqual(r.status, 0, `${escape}: ${r.stdout}`);
    assert.match(r.stderr, /path concatenation escapes the base directory/, escape);
    assert.doesNotMatch(r.stdout, /passwd|proc|root/, `${escape} showed the host`);
  }
  const dotdot = d.docker([
    'create',
    '--mount',
    'type=image,source=layered:test,target=/img,image-subpath=../x',
    'bb:test',
  ]);
  assert.match(
    dotdot.stderr,
    /invalid mount config for type "image": subpath must be a relative path within the volume/,
  );
  assert.deepEqual(mountsUnder(staging()), [], 'a refused start leaves nothing mounted');
  assert.equal(containerCount(), 0);
});

test('the API refuses an image mount before 1.48 and invalid ones in Docker words, and creates nothing', async () => {
  const body = (mount: object) => ({ Image: 'bb:test', Cmd: ['true'], HostConfig: { Mounts: [mount] } });
  const img = { Type: 'image', Source: 'layered:test', Target: '/img' };
  const old = await d.request('POST', '/v1.47/containers/create', body(img));
  assert.equal(old.status, 400);
  assert.equal(JSON.parse(old.body).message, 'Mount type "Image" needs API v1.48 or newer');
  const cases: [object, string][] = [
    [{ Type: 'image', Target: '/img' }, 'invalid mount config for type "image": field Source must not be empty'],
    [{ ...img, VolumeOptions: {} }, 'VolumeOptions must not be specified on mount type "image"'],
    [
      { Type: 'volume', Source: 'v', Target: '/img', ImageOptions: {} },
      'invalid mount config for type "volume": field ImageOptions must not be specified',
    ],
  ];
  for (const [mount, message] of cases) {
    const r = await d.request('POST', '/v1.48/containers/create', body(mount));
    assert.equal(r.status, 400, r.body);
    assert.equal(JSON.parse(r.body).message, message);
  }
  const missing = await d.request('POST', '/v1.48/containers/create', body({ ...img, Source: 'nosuch:image' }));
  assert.equal(missing.status, 404);
  assert.match(JSON.parse(missing.body).message, /No such image: nosuch:image/);
  assert.equal(containerCount(), 0);
  assert.equal(ok(d.docker(['volume', 'ls', '-q']), 'volume ls'), '');
});

test('a mounted image is in use: rmi refuses (not even -f while running), df counts the container', async () => {
  ok(
    d.docker([
      'run',
      '-d',
      '--name',
      'user',
      '--mount',
      'type=image,source=layered:test,target=/img',
      'bb:test',
      'sleep',
      '1000',
    ]),
    'run',
  );
  const short = layeredId.slice(7, 19);
  const untag = d.docker(['rmi', 'layered:test']);
  assert.match(
    untag.stderr,
    /unable to remove repository reference "layered:test" \(must force\) - container [0-9a-f]{12} is using its referenced image/,
  );
  const running = d.docker(['rmi', '-f', short]);
  assert.match(
    running.stderr,
    new RegExp(`unable to delete ${short} \\(cannot be forced\\) - image is being used by running container`),
  );
  const df = JSON.parse((await d.request('GET', '/v1.48/system/df')).body) as {
    Images: { Id: string; Containers: number }[];
  };
  assert.equal(df.Images.find((i) => i.Id === layeredId)?.Containers, 1);
  const inspect = JSON.parse(ok(d.docker(['inspect', 'user']), 'inspect'))[0];
  assert.deepEqual(
    { ...inspect.Mounts[0], Source: undefined },
    {
      Type: 'image',
      Name: 'layered:test',
      Source: undefined,
      Destination: '/img',
      Mode: '',
      RW: false,
      Propagation: 'rprivate',
    },
  );
  assert.ok(inspect.Mounts[0].Source.startsWith(staging()), inspect.Mounts[0].Source);

  ok(d.docker(['stop', '-t', '0', 'user']), 'stop');
  assert.deepEqual(mountsUnder(staging()), [], 'unmounted at stop');
  const stopped = d.docker(['rmi', short]);
  assert.match(
    stopped.stderr,
    new RegExp(`unable to delete ${short} \\(must be forced\\) - image is being used by stopped container`),
  );
  ok(d.docker(['start', 'user']), 'start again');
  assert.equal(ok(d.docker(['exec', 'user', 'cat', '/img/b.txt']), 'exec'), 'bee\n');
  ok(d.docker(['rm', '-f', 'user']), 'rm');
  assert.deepEqual(mountsUnder(staging()), []);
  assert.equal(d.docker(['rmi', 'layered:test']).status, 0, 'free once the container is gone');
  ok(d.docker(['load', '-i', path.join(d.dir, 'layered.tar')]), 'load layered again');
});

test('ReadOnly sent as false mounts the image over a writable layer of the container, kept across restarts, gone with it', async () => {
  const snapshotsDir = path.join(d.dataRoot, 'snapshots');
  const driverDir = path.join(
    snapshotsDir,
    fs.readdirSync(snapshotsDir).find((n) => n === 'overlay2' || n === 'vfs')!,
  );
  const before = fs.readdirSync(driverDir);
  const created = await d.request('POST', '/v1.48/containers/create?name=rw', {
    Image: 'bb:test',
    Cmd: ['sh', '-c', 'cat /img/etc/mine 2>/dev/null; echo mine > /img/etc/mine; rm /img/b.txt; ls /img'],
    HostConfig: { Mounts: [{ Type: 'image', Source: 'layered:test', Target: '/img', ReadOnly: false }] },
  });
  assert.equal(created.status, 201, created.body);
  ok(d.docker(['start', '-a', 'rw']), 'first run');
  const second = ok(d.docker(['start', '-a', 'rw']), 'second run');
  assert.match(second, /^mine\n/, 'the write survived the restart');
  assert.doesNotMatch(second, /b\.txt/);
  const mounts = JSON.parse(ok(d.docker(['inspect', '-f', '{{json .Mounts}}', 'rw']), 'inspect'));
  assert.equal(mounts[0].RW, true);
  const other = d.docker([
    'run',
    '--rm',
    '--mount',
    'type=image,source=layered:test,target=/img',
    'bb:test',
    'ls',
    '/img',
    '/img/etc',
  ]);
  assert.match(other.stdout, /b\.txt/, 'the image itself is untouched');
  assert.doesNotMatch(other.stdout, /mine/);
  ok(d.docker(['rm', 'rw']), 'rm');
  assert.deepEqual(fs.readdirSync(driverDir).sort(), before.sort(), 'the writable layer went with the container');
});

test('a start that fails after the image is mounted leaves nothing mounted', () => {
  const r = d.docker([
    'run',
    '--name',
    'bad',
    '--mount',
    'type=image,source=layered:test,target=/img',
    'bb:test',
    '/no/such',
  ]);
  assert.notEqual(r.status, 0);
  const id = ok(d.docker(['inspect', '-f', '{{.Id}}', 'bad']), 'inspect').trim();
  assert.deepEqual(mountsUnder(staging()), [], `bad is ${id}`);
  ok(d.docker(['rm', 'bad']), 'rm');
});

test('docker cp reads through image mounts, stopped or running, and leaves nothing mounted', async () => {
  ok(
    d.docker([
      'create',
      '--name',
      'cp',
      '--mount',
      'type=image,source=layered:test,target=/img,image-subpath=etcl',
      'bb:test',
      'sleep',
      '1000',
    ]),
    'create',
  );
  const out = path.join(d.dir, 'cp-out');
  ok(d.docker(['cp', 'cp:/img/new', out]), 'cp from a stopped container');
  assert.equal(fs.readFileSync(out, 'utf8'), 'new\n');
  const into = d.docker(['cp', out, 'cp:/img/copied']);
  assert.notEqual(into.status, 0, 'a read-only image mount takes no copy');
  assert.deepEqual(mountsUnder(staging()), []);

  ok(d.docker(['start', 'cp']), 'start');
  fs.rmSync(out);
  ok(d.docker(['cp', 'cp:/img/new', out]), 'cp from a running container');
  assert.equal(fs.readFileSync(out, 'utf8'), 'new\n');
  assert.equal(mountsUnder(staging()).length, 2, 'only the running container’s own staging mounts');
  ok(d.docker(['rm', '-f', 'cp']), 'rm');
  assert.deepEqual(mountsUnder(staging()), []);
});
