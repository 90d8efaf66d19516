import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { InvalidParameter } from '../../src/errors.js';
import { allocatedBytes, fillTree, getXattr, makeService, manifest, tempDir } from './fixture.js';

test('export then import keeps owners, modes, xattrs, hardlinks, symlinks and holes', async () => {
  const root = tempDir();
  try {
    const { svc, volumes } = makeService(root);
    const src = await volumes.create({ name: 'src' });
    fillTree(src.mountpoint);
    fs.chownSync(src.mountpoint, 33, 33);
    const file = path.join(root, 'export.tar');
    const out = await svc.export('src');
    await new Promise<void>((resolve, reject) =>
      out.stream.pipe(fs.createWriteStream(file)).on('finish', resolve).on('error', reject),
    );
    await out.done;
    // The hand method can read it.
    assert.match(execFileSync('tar', ['-tf', file]).toString(), /^\.\/sub\/deeper\/long\.txt$/m);

    await svc.import('dst', fs.createReadStream(file));
    const dst = await volumes.get('dst');
    assert.equal(manifest(dst.mountpoint), manifest(src.mountpoint));
    assert.equal(getXattr(path.join(dst.mountpoint, 'hello.txt'), 'user.origin'), 'strata');
    assert.equal(
      fs.statSync(path.join(dst.mountpoint, 'hard.txt')).ino,
      fs.statSync(path.join(dst.mountpoint, 'hello.txt')).ino,
    );
    assert.ok(allocatedBytes(path.join(dst.mountpoint, 'sparse.img')) < 1 << 20, 'sparse file came back dense');
    assert.equal(fs.statSync(dst.mountpoint).uid, 33, 'volume root owner');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a gzip tar made by the hand method (tar czf -C /source .) imports, replacing the old content', async () => {
  const root = tempDir();
  try {
    const { svc, volumes } = makeService(root);
    const source = path.join(root, 'source');
    fs.mkdirSync(source);
    fillTree(source);
    const file = path.join(root, 'b.tar.gz');
    execFileSync('tar', ['czf', file, '-C', source, '.']);
    const vol = await volumes.create({ name: 'v' });
    fs.writeFileSync(path.join(vol.mountpoint, 'stale'), 'old');
    const res = await svc.import('v', fs.createReadStream(file));
    assert.equal(res.compression, 'gzip');
    assert.equal(manifest(vol.mountpoint), manifest(source));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

/** Builds a tar from shell commands run in a scratch dir, with the given member names. */
function hostileTar(root: string, name: string, setup: string, members: string[], extra: string[] = []): string {
  const dir = path.join(root, 'h-' + name);
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['-c', setup], { cwd: dir });
  const file = path.join(root, name + '.tar');
  execFileSync('tar', ['cf', file, '-P', ...extra, ...members], { cwd: dir });
  return file;
}

test('hostile import tars are refused and the volume stays untouched', async () => {
  const root = tempDir();
  try {
    const { svc, volumes } = makeService(root);
    const victim = await volumes.create({ name: 'victim' });
    fs.writeFileSync(path.join(victim.mountpoint, 'keep.txt'), 'precious');
    const before = manifest(victim.mountpoint);
    const outside = path.join(root, 'outside');
    fs.mkdirSync(outside);
    const cases = [
      hostileTar(root, 'dotdot', 'mkdir a && echo x > a/f', ['a/f'], ['--transform', 's,^a/f,../../outside/pwned,']),
      hostileTar(root, 'abs-name', 'echo x > f', ['f'], ['--transform', `s,^f,${outside}/pwned,`]),
      hostileTar(root, 'abs-symlink', 'ln -s /etc evil', ['evil']),
      hostileTar(root, 'escaping-symlink', 'mkdir d && ln -s ../../.. d/up', ['d', 'd/up']),
      hostileTar(
        root,
        'through-symlink',
        `ln -s . ok && mkdir real && echo x > real/pwned`,
        ['ok', 'real/pwned'],
        ['--transform', 's,^real/,ok/,'],
      ),
      hostileTar(root, 'hardlink-out', 'echo x > f', ['f'], ['--hard-dereference', '--transform', 's,^f,g,']),
    ];
    // A hardlink whose target climbs out: made with python's tarfile, tar will not write one.
    const hl = path.join(root, 'hardlink-out.tar');
    execFileSync('python3', [
      '-c',
      `import tarfile,sys
t=tarfile.open(sys.argv[1],'w'); i=tarfile.TarInfo('x'); i.type=tarfile.LNKTYPE; i.linkname='../../etc/passwd'; t.addfile(i); t.close()`,
      hl,
    ]);
    cases[5] = hl;
    for (const file of cases) {
      await assert.rejects(svc.import('victim', fs.createReadStream(file)), InvalidParameter, path.basename(file));
      assert.equal(manifest(victim.mountpoint), before, `victim changed by ${path.basename(file)}`);
    }
    assert.deepEqual(fs.readdirSync(outside), []);
    await assert.rejects(
      svc.import('victim', Readable.from([Buffer.from('not a tar at all, just text'.repeat(40))])),
      InvalidParameter,
    );
    assert.equal(manifest(victim.mountpoint), before);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('import into a volume in use is refused unless forced', async () => {
  const root = tempDir();
  try {
    const { svc, volumes } = makeService(root);
    const vol = await volumes.create({ name: 'busy' });
    volumes.using.set('busy', ['c1']);
    const file = path.join(root, 't.tar');
    fs.writeFileSync(path.join(root, 'f'), 'new');
    execFileSync('tar', ['cf', file, '-C', root, 'f']);
    await assert.rejects(svc.import('busy', fs.createReadStream(file)), /volume is in use - \[c1\]/);
    assert.deepEqual(fs.readdirSync(vol.mountpoint), []);
    await svc.import('busy', fs.createReadStream(file), { force: true });
    assert.equal(await text(fs.createReadStream(path.join(vol.mountpoint, 'f'))), 'new');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
