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
