// Lazy driver mounts of local volumes (tmpfs, bind via type=none,o=bind) and the first-use copy
// of image content. Real mounts: every test unmounts what it made (the fixture double-checks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { volumeServiceFixture, mountsUnder } from './fixtures/service.js';
import { lgetxattr, lsetxattr } from '../../src/native/syscalls.js';
import { Conflict } from '../../src/errors.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

function fsTypeOf(p: string): string | undefined {
  const real = fs.realpathSync(p);
  const line = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[4] === real)
    .pop();
  if (!line) return undefined;
  const f = line.split(' ');
  return f[f.indexOf('-', 6) + 1];
}

test('a type=tmpfs volume is mounted at first use, shared, and empty again after the last user', async (t) => {
  const f = await volumeServiceFixture();
  t.after(() => f.close());
  const v = await f.svc.create({
    name: 'ramvol',
    driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=2m,uid=1000' },
  });
  const optsFile = path.join(f.dataRoot, 'volumes', 'ramvol', 'opts.json');
  assert.equal(fs.statSync(optsFile).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(fs.readFileSync(optsFile, 'utf8')), {
    MountType: 'tmpfs',
    MountOpts: 'size=2m,uid=1000',
    MountDevice: 'tmpfs',
    Quota: { Size: 0 },
  });
  assert.equal(fsTypeOf(v.mountpoint), undefined, 'not mounted at create');

  const p1 = await f.svc.mount('ramvol', A);
  assert.equal(p1, v.mountpoint);
  assert.equal(fsTypeOf(p1), 'tmpfs');
  assert.equal(fs.statSync(p1).uid, 1000);
  assert.equal(fs.statfsSync(p1).blocks * fs.statfsSync(p1).bsize, 2 * 1024 * 1024);
  fs.writeFileSync(path.join(p1, 'f'), 'shared');
  const p2 = await f.svc.mount('ramvol', B);
  assert.equal(fs.readFileSync(path.join(p2, 'f'), 'utf8'), 'shared');
  await assert.rejects(f.svc.remove('ramvol'), Conflict);
  await f.svc.unmount('ramvol', A);
  assert.equal(fsTypeOf(v.mountpoint), 'tmpfs', 'still mounted for B');
  await f.svc.unmount('ramvol', B);
  assert.equal(fsTypeOf(v.mountpoint), undefined);
  assert.deepEqual(fs.readdirSync(v.mountpoint), []);
  const p3 = await f.svc.mount('ramvol', A);
  assert.deepEqual(fs.readdirSync(p3), [], 'content gone once unused');
  await f.svc.unmount('ramvol', A);
  assert.deepEqual(mountsUnder(f.dir), []);
  const actions = f.seen.filter((e) => e.Actor.ID === 'ramvol').map((e) => e.Action);
  assert.deepEqual(actions, ['create', 'mount', 'mount', 'unmount', 'unmount', 'mount', 'unmount']);
});

test('type=none,o=bind binds the device directory; removing the volume keeps the host files', async (t) => {
  const f = await volumeServiceFixture();
  t.after(() => f.close());
  const host = path.join(f.dir, 'uploads');
  fs.mkdirSync(host);
  fs.writeFileSync(path.join(host, 'host.txt'), 'from host');
  const v = await f.svc.create({ name: 'uploads', driverOpts: { type: 'none', o: 'bind', device: host } });
  const p = await f.svc.mount('uploads', A);
  assert.equal(fs.readFileSync(path.join(p, 'host.txt'), 'utf8'), 'from host');
  fs.writeFileSync(path.join(p, 'c.txt'), 'from container');
  assert.equal(fs.readFileSync(path.join(host, 'c.txt'), 'utf8'), 'from container');
  await f.svc.unmount('uploads', A);
  assert.deepEqual(fs.readdirSync(v.mountpoint), []);
  await f.svc.remove('uploads');
  assert.deepEqual(fs.readdirSync(host).sort(), ['c.txt', 'host.txt']);

  await f.svc.create({ name: 'broken', driverOpts: { type: 'none', o: 'bind', device: path.join(f.dir, 'nowhere') } });
  await assert.rejects(
    f.svc.mount('broken', A),
    /^SystemError: failed to mount local volume: mount .*nowhere:.*broken\/_data, flags: 0x1000: no such file or directory$/,
  );
  assert.deepEqual(mountsUnder(f.dir), []);
  await f.svc.remove('broken');
});

test('a failed mount says failed to mount local volume and masks password=', async (t) => {
  const f = await volumeServiceFixture();
  t.after(() => f.close());
  await f.svc.create({
    name: 'cifsvol',
    driverOpts: { type: 'nosuchfs', device: 'dev', o: 'user=u,password=hunter2' },
  });
  await assert.rejects(f.svc.mount('cifsvol', A), (e: unknown) => {
    const m = (e as Error).message;
    return m.startsWith('failed to mount local volume: ') && !m.includes('hunter2');
  });
  assert.deepEqual(mountsUnder(f.dir), []);
});

test('populate copies image content into an empty volume once, keeping owners, modes, xattrs, links', async (t) => {
  const f = await volumeServiceFixture();
  t.after(() => f.close());
  const img = path.join(f.dir, 'image-app');
  fs.mkdirSync(path.join(img, 'conf.d'), { recursive: true });
  fs.writeFileSync(path.join(img, 'app.conf'), 'default config');
  fs.writeFileSync(path.join(img, 'conf.d', 'extra.conf'), 'extra');
  fs.linkSync(path.join(img, 'app.conf'), path.join(img, 'hardlink'));
  fs.symlinkSync('/etc/passwd', path.join(img, 'abs-link'));
  lsetxattr(path.join(img, 'app.conf'), 'user.origin', Buffer.from('image'));
  lsetxattr(img, 'user.root', Buffer.from('dir'));
  for (const p of [img, path.join(img, 'conf.d'), path.join(img, 'conf.d', 'extra.conf'), path.join(img, 'app.conf')])
    fs.chownSync(p, 1000, 1000);
  fs.chmodSync(img, 0o750);
  fs.utimesSync(path.join(img, 'app.conf'), new Date('2001-01-01T00:00:00Z'), new Date('2001-01-01T00:00:00Z'));

  const v = await f.svc.create({ name: 'fresh' });
  await f.svc.populate('fresh', img);
  const st = fs.statSync(v.mountpoint);
  assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1000, 1000, 0o750]);
  const conf = fs.statSync(path.join(v.mountpoint, 'app.conf'));
  assert.deepEqual([conf.uid, conf.gid, conf.mode & 0o777, conf.nlink], [1000, 1000, 0o644, 2]);
  assert.equal(conf.mtime.toISOString(), '2001-01-01T00:00:00.000Z');
  assert.equal(fs.readFileSync(path.join(v.mountpoint, 'conf.d', 'extra.conf'), 'utf8'), 'extra');
  assert.equal(fs.readlinkSync(path.join(v.mountpoint, 'abs-link')), '/etc/passwd');
  assert.equal(lgetxattr(path.join(v.mountpoint, 'app.conf'), 'user.origin')?.toString(), 'image');
  assert.equal(lgetxattr(v.mountpoint, 'user.root')?.toString(), 'dir');

  // Not empty any more: a second populate leaves the user's change alone.
  fs.writeFileSync(path.join(v.mountpoint, 'app.conf'), 'changed');
  await f.svc.populate('fresh', img);
  assert.equal(fs.readFileSync(path.join(v.mountpoint, 'app.conf'), 'utf8'), 'changed');

  // A file where the volume would go is refused with Docker's words.
  await f.svc.create({ name: 'onfile' });
  await assert.rejects(
    f.svc.populate('onfile', path.join(img, 'app.conf')),
    new RegExp(`cannot mount volume over existing file, file exists ${path.join(img, 'app.conf')}`),
  );
  // A missing image path copies nothing.
  await f.svc.populate('onfile', path.join(img, 'missing'));
  assert.deepEqual(fs.readdirSync(path.join(f.dataRoot, 'volumes', 'onfile', '_data')), []);
});

test('populate of a tmpfs volume mounts it only for the copy', async (t) => {
  const f = await volumeServiceFixture();
  t.after(() => f.close());
  const img = path.join(f.dir, 'img');
  fs.mkdirSync(img);
  fs.writeFileSync(path.join(img, 'x'), 'x');
  await f.svc.create({ name: 'ram', driverOpts: { type: 'tmpfs', device: 'tmpfs' } });
  await f.svc.populate('ram', img);
  assert.deepEqual(mountsUnder(f.dir), []);
});

test('a lazily mounted filesystem left by a previous run is unmounted at startup', async (t) => {
  const f = await volumeServiceFixture();
  t.after(() => f.close());
  const v = await f.svc.create({ name: 'ram', driverOpts: { type: 'tmpfs', device: 'tmpfs' } });
  await f.svc.mount('ram', A);
  assert.equal(fsTypeOf(v.mountpoint), 'tmpfs');
  await f.restart();
  assert.equal(fsTypeOf(v.mountpoint), undefined);
  await f.svc.remove('ram');
  assert.deepEqual(mountsUnder(f.dir), []);
});
