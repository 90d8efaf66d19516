// --storage-opt size= and the local volume option size= on a real xfs filesystem mounted with
// pquota (a loop-mounted image), and Docker's refusal where the backing filesystem cannot:
// xfs without pquota, and the ext4 of the test's temp dir. A kernel built without XFS quota
// support (CONFIG_XFS_QUOTA unset) cannot mount with pquota at all: the enforcement tests are
// skipped there, saying so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startDaemon, mountsUnder, type TestDaemon } from '../helpers/daemon.js';
import { mountLoopFs, isMounted, loopDevicesUnder, type LoopFs } from '../helpers/loop-fs.js';
import { busyboxArchive } from './busybox-image.js';

const loops: LoopFs[] = [];
const daemons: TestDaemon[] = [];

async function daemonOn(fs: LoopFs | undefined): Promise<TestDaemon> {
  const d = await startDaemon(fs ? ['--data-root', path.join(fs.mountPoint, 'root')] : []);
  daemons.push(d);
  const r = spawnSync('docker', ['load'], {
    input: await busyboxArchive('quotatest:latest'),
    env: { ...process.env, DOCKER_HOST: d.host },
  });
  assert.equal(r.status, 0, String(r.stderr));
  return d;
}

function pquotaFs(): LoopFs | string {
  try {
    const fs = mountLoopFs('xfs-pquota', 320);
    loops.push(fs);
    return fs;
  } catch (err) {
    const dmesg =
      spawnSync('dmesg', { encoding: 'utf8' })
        .stdout.split('\n')
        .filter((l) => /XFS.*quota/.test(l))
        .at(-1) ?? '';
    return `xfs cannot be mounted with pquota here: ${dmesg.trim() || (err as Error).message.split('\n')[0]}`;
  }
}

let xfsNoQuota: TestDaemon;
before(async () => {
  const fs = mountLoopFs('xfs', 320);
  loops.push(fs);
  xfsNoQuota = await daemonOn(fs);
});
after(async () => {
  for (const d of daemons) await d.stop();
  for (const fs of loops) {
    for (const m of mountsUnder(fs.mountPoint + '/')
      .sort()
      .reverse())
      spawnSync('umount', ['-l', m]);
    fs.teardown();
    assert.equal(isMounted(fs.mountPoint), false);
    assert.deepEqual(loopDevicesUnder(path.dirname(fs.mountPoint)), []);
  }
});

test("on xfs without pquota both size options are refused with Docker's errors", () => {
  assert.equal(xfsNoQuota.docker(['info', '-f', '{{.Driver}}']).stdout.trim(), 'overlay2');
  const c = xfsNoQuota.docker(['create', '--storage-opt', 'size=10m', 'quotatest', 'true']);
  assert.notEqual(c.status, 0);
  assert.match(
    c.stderr,
    /Error response from daemon: --storage-opt is supported only for overlay over xfs with 'pquota' mount option/,
  );
  const v = xfsNoQuota.docker(['volume', 'create', '-o', 'size=10m', 'noquota']);
  assert.notEqual(v.status, 0);
  assert.match(v.stderr, /quota size requested but no quota support/);
  assert.equal(xfsNoQuota.docker(['ps', '-aq']).stdout, '', 'nothing was left half-created');
});

test('unknown storage options are refused by name, whatever the filesystem', () => {
  const r = xfsNoQuota.docker(['create', '--storage-opt', 'foo=1', 'quotatest', 'true']);
  assert.match(r.stderr, /Unknown option foo/);
});

test('on ext4 the size option is refused too', async () => {
  const plain = await daemonOn(undefined);
  const c = plain.docker(['create', '--storage-opt', 'size=10m', 'quotatest', 'true']);
  assert.match(c.stderr, /--storage-opt is supported only for overlay over xfs with 'pquota' mount option/);
});

test('on xfs with pquota, writing past --storage-opt size or a volume\'s size is "Disk quota exceeded"', async (t) => {
  const fs = pquotaFs();
  if (typeof fs === 'string') return t.skip(fs);
  const d = await daemonOn(fs);
  const over = d.docker([
    'run',
    '--rm',
    '--storage-opt',
    'size=2m',
    'quotatest',
    'dd',
    'if=/dev/zero',
    'of=/big',
    'bs=1024',
    'count=4096',
  ]);
  assert.notEqual(over.status, 0);
  assert.match(over.stderr + over.stdout, /Disk quota exceeded/);
  const under = d.docker([
    'run',
    '--rm',
    '--storage-opt',
    'size=2m',
    'quotatest',
    'dd',
    'if=/dev/zero',
    'of=/small',
    'bs=1024',
    'count=1024',
  ]);
  assert.equal(under.status, 0, under.stderr);
  const free = d.docker(['run', '--rm', 'quotatest', 'dd', 'if=/dev/zero', 'of=/big', 'bs=1024', 'count=4096']);
  assert.equal(free.status, 0, `without the option there is no limit: ${free.stderr}`);

  assert.equal(d.docker(['volume', 'create', '-o', 'size=1m', 'qvol']).status, 0);
  const vol = d.docker([
    'run',
    '--rm',
    '-v',
    'qvol:/v',
    'quotatest',
    'dd',
    'if=/dev/zero',
    'of=/v/big',
    'bs=1024',
    'count=3072',
  ]);
  assert.notEqual(vol.status, 0);
  assert.match(vol.stderr + vol.stdout, /Disk quota exceeded/);
  assert.equal(d.docker(['volume', 'rm', 'qvol']).status, 0);
});

/** Level-0 qgroups of the btrfs at `mnt` once its cleaner has dropped every deleted subvolume. */
function settledQgroups(mnt: string): string[] {
  assert.equal(spawnSync('btrfs', ['subvolume', 'sync', mnt]).status, 0);
  const out = spawnSync('btrfs', ['qgroup', 'show', '-r', '--raw', mnt], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => /^0\/\d+$/.test(f[0] ?? '') && f[0] !== '0/5')
    .map((f) => `${f[0]} ${f[3]}`);
}

test('on btrfs, --storage-opt size and a volume\'s size are qgroup limits: "Disk quota exceeded" past them, gone with their container or volume', async () => {
  const fs = mountLoopFs('btrfs', 1024);
  loops.push(fs);
  const d = await daemonOn(fs);
  assert.equal(d.docker(['info', '-f', '{{.Driver}}']).stdout.trim(), 'btrfs');

  const create = d.docker(['create', '--storage-opt', 'size=20m', 'quotatest', 'sleep', '1000']);
  assert.equal(create.status, 0, create.stderr);
  const id = create.stdout.trim();
  assert.equal(d.docker(['inspect', '-f', '{{json .GraphDriver}}', id]).stdout.trim(), '{"Data":null,"Name":"btrfs"}');
  const limited = (bytes: number) => settledQgroups(fs.mountPoint).filter((q) => q.endsWith(` ${bytes}`));
  const layerQgroup = limited(20 << 20);
  assert.equal(layerQgroup.length, 1, 'the writable layer has a 20 MiB limit');

  assert.equal(d.docker(['start', id]).status, 0);
  const small = d.docker(['exec', id, 'dd', 'if=/dev/zero', 'of=/small', 'bs=1024', 'count=4096']);
  assert.equal(small.status, 0, small.stderr);
  const over = d.docker(['exec', id, 'dd', 'if=/dev/zero', 'of=/big', 'bs=1024', 'count=40960']);
  assert.notEqual(over.status, 0);
  assert.match(over.stderr + over.stdout, /Disk quota exceeded/);
  const free = d.docker(['run', '--rm', 'quotatest', 'dd', 'if=/dev/zero', 'of=/big', 'bs=1024', 'count=40960']);
  assert.equal(free.status, 0, `without the option there is no limit: ${free.stderr}`);
  assert.equal(d.docker(['rm', '-f', id]).status, 0);
  const ids = () => settledQgroups(fs.mountPoint).map((q) => q.split(' ')[0]);
  assert.ok(!ids().includes(layerQgroup[0]!.split(' ')[0]), "the container's qgroup went with it");

  assert.equal(d.docker(['volume', 'create', '-o', 'size=10m', 'qvol']).status, 0);
  const mountpoint = d.docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'qvol']).stdout.trim();
  const show = spawnSync('btrfs', ['subvolume', 'show', mountpoint], { encoding: 'utf8' });
  assert.equal(show.status, 0, `the volume's _data is a subvolume: ${show.stderr}`);
  const volQgroup = limited(10 << 20);
  assert.equal(volQgroup.length, 1, 'the volume has a 10 MiB limit');
  const vol = d.docker([
    'run',
    '--rm',
    '-v',
    'qvol:/v',
    'quotatest',
    'dd',
    'if=/dev/zero',
    'of=/v/big',
    'bs=1024',
    'count=20480',
  ]);
  assert.notEqual(vol.status, 0);
  assert.match(vol.stderr + vol.stdout, /Disk quota exceeded/);
  assert.equal(d.docker(['volume', 'rm', 'qvol']).status, 0);
  assert.ok(!ids().includes(volQgroup[0]!.split(' ')[0]), "the volume's qgroup went with it");
});
