// A full data-root: a commit or a load that runs out of space fails with an error naming the
// operation and where it was writing (not the archive's fault, not Node's bare ENOSPC), and
// gives back everything it opened: once the container is removed the filesystem's free space
// is what it was, and the daemon holds no descriptor of a deleted file under the data-root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { startDaemon, ok, type TestDaemon } from '../helpers/daemon.js';
import { mountLoopFs, type LoopFs } from '../helpers/loop-fs.js';
import { busyboxArchive } from './busybox-image.js';
import { dockerArchive, makeTar, sha256 } from '../image/fixture-archive.js';

const MB = 1024 * 1024;
let loop: LoopFs;
let d: TestDaemon;
let root: string;

before(async () => {
  loop = mountLoopFs('ext4', 192, ['-m', '0']);
  root = path.join(loop.mountPoint, 'root');
  d = await startDaemon(['--data-root', root]);
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:nospace'));
  ok(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]), 'load busybox');
});
after(async () => {
  await d?.stop();
  loop?.teardown();
});

const freeBytes = () => {
  const s = fs.statfsSync(loop.mountPoint);
  return s.bavail * s.bsize;
};

/**
 * Free bytes once the filesystem has caught up: ext4 counts a deleted file's blocks as free only
 * when its journal transaction commits (every few seconds, later on a busy machine), so the
 * filesystem is synced and asked again until it reaches `atLeast` or ten seconds pass.
 */
async function settledFreeBytes(atLeast: number): Promise<number> {
  let free = freeBytes();
  for (let i = 0; i < 20 && free < atLeast; i++) {
    spawnSync('sync', ['-f', loop.mountPoint]);
    await new Promise((r) => setTimeout(r, 500));
    free = freeBytes();
  }
  return free;
}

/** Descriptors of the daemon on files already deleted under the data-root. */
function deletedFilesHeld(): string[] {
  const dir = `/proc/${d.proc.pid}/fd`;
  return fs
    .readdirSync(dir)
    .map((fd) => {
      try {
        return fs.readlinkSync(`${dir}/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((target) => target.startsWith(loop.mountPoint) && target.endsWith('(deleted)'));
}

test('commit of more than fits: a clear error, and rm gives all the space back', async () => {
  const free0 = freeBytes();
  // The layer (80 MB of incompressible bytes) fits once, not three times (ingest and snapshot).
  ok(
    d.docker(['run', '--name', 'big', 'bb:nospace', 'dd', 'if=/dev/urandom', 'of=/data/big', 'bs=1M', 'count=80']),
    'write 80 MB',
  );
  const c = d.docker(['commit', 'big', 'big:img']);
  assert.notEqual(c.status, 0, 'the commit cannot fit');
  assert.match(c.stderr, /commit: no space left on device writing layer \/\S+/);
  assert.doesNotMatch(c.stderr, /ENOSPC: no space left on device, write$/m);
  assert.equal(d.docker(['image', 'inspect', 'big:img']).status, 1, 'no image was made');
  ok(d.docker(['rm', 'big']), 'rm');
  const free1 = await settledFreeBytes(free0 - 4 * MB);
  assert.deepEqual(deletedFilesHeld(), [], 'no descriptor on a deleted file');
  assert.ok(
    free1 >= free0 - 4 * MB,
    `free space returned: ${(free0 / MB).toFixed(1)} MB before, ${(free1 / MB).toFixed(1)} MB after rm`,
  );
});

/** A docker-archive (its config after its layer) whose one layer holds `bytes` random bytes. */
async function archiveOf(tag: string, bytes: number): Promise<string> {
  const layer = await makeTar([{ name: 'blob', data: randomBytes(bytes) }]);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
    }),
  );
  const archive = path.join(d.dir, `${tag.replace(':', '-')}.tar`);
  fs.writeFileSync(archive, (await dockerArchive({ tag, layers: [layer], config, gzipIndex: -1 })).tar);
  return archive;
}

test('a load that fills the disk says load and no space, not invalid archive, and leaves the space free', async () => {
  const free0 = freeBytes();
  const archive = await archiveOf('huge:1', Math.ceil(free0 * 1.2));
  const r = d.docker(['load', '-i', archive]);
  fs.rmSync(archive);
  assert.notEqual(r.status, 0, 'the load cannot fit');
  assert.match(r.stderr + r.stdout, /load: no space left on device writing \/\S+/);
  assert.doesNotMatch(r.stderr + r.stdout, /invalid archive/);
  assert.equal(d.docker(['image', 'inspect', 'huge:1']).status, 1, 'no image was made');
  assert.deepEqual(deletedFilesHeld(), [], 'no descriptor on a deleted file');
  const free1 = await settledFreeBytes(free0 - 4 * MB);
  assert.ok(
    free1 >= free0 - 4 * MB,
    `free space returned: ${(free0 / MB).toFixed(1)} MB before, ${(free1 / MB).toFixed(1)} MB after`,
  );
});

test('overlay2: a layer that fits once loads though its config comes after it (its bytes are never stored twice)', async (t) => {
  if (d.docker(['info', '--format', '{{.Driver}}']).stdout.trim() !== 'overlay2') {
    t.skip('layers are staged before they are extracted on this driver');
    return;
  }
  const free0 = freeBytes();
  const archive = await archiveOf('twice:1', Math.ceil(free0 * 0.8));
  const r = d.docker(['load', '-i', archive]);
  fs.rmSync(archive);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'Loaded image: twice:1\n');
  ok(d.docker(['image', 'rm', 'twice:1']), 'rmi');
  const free1 = await settledFreeBytes(free0 - 4 * MB);
  assert.ok(
    free1 >= free0 - 4 * MB,
    `free space returned: ${(free0 / MB).toFixed(1)} MB before, ${(free1 / MB).toFixed(1)} MB after`,
  );
});

test('a start on a full disk names start and the file, and leaves nothing mounted', async () => {
  ok(d.docker(['create', '--name', 'late', 'bb:nospace', 'true']), 'create');
  const filler = path.join(loop.mountPoint, 'filler');
  const s = fs.statfsSync(loop.mountPoint);
  const fd = fs.openSync(filler, 'w');
  try {
    // Every free block taken, a block at a time where one large write stops short.
    const block = Buffer.alloc(Number(s.bsize) * 256);
    for (;;) {
      try {
        fs.writeSync(fd, block);
      } catch {
        break;
      }
    }
    for (;;) {
      try {
        fs.writeSync(fd, block.subarray(0, Number(s.bsize)));
      } catch {
        break;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  try {
    const r = d.docker(['start', 'late']);
    assert.notEqual(r.status, 0, 'the start cannot write its files');
    assert.match(r.stderr, /start: no space left on device writing \/\S+/);
    assert.deepEqual(
      fs
        .readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .map((l) => l.split(' ')[4] ?? '')
        .filter((m) => m.startsWith(root + '/')),
      [],
      'the failed start unmounted what it mounted',
    );
  } finally {
    fs.rmSync(filler, { force: true });
  }
  ok(d.docker(['start', 'late']), 'start once there is space');
  ok(d.docker(['rm', '-f', 'late']), 'rm');
});
