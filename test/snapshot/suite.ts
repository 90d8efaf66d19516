// The conformance suite every storage driver must pass, after containerd's
// core/snapshots/testsuite: each case mounts through mount/kernel.ts and reads and writes real files.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { access, link, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeFixture, type Driver, type Fixture, type FixtureOptions } from './fixture.js';
import { Conflict, InvalidParameter, NotFound } from '../../src/errors.js';
import { unmount } from '../../src/mount/kernel.js';
import type { SnapshotInfo } from '../../src/snapshot/snapshotter.js';

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** Prepares `key` on `parent`, lets `write` change it through a real mount, commits it as `name`. */
export async function layer(
  fx: Fixture,
  name: string,
  parent: string | undefined,
  write: (dir: string) => Promise<void>,
): Promise<void> {
  const key = `extract-${name}`;
  await fx.withMount(await fx.sn.prepare(key, parent), write);
  await fx.sn.commit(name, key);
}

async function viewFiles(
  fx: Fixture,
  parent: string,
  key: string,
  read: (dir: string) => Promise<void>,
): Promise<void> {
  await fx.withMount(await fx.sn.view(key, parent), read);
  await fx.sn.remove(key);
}

export function snapshotterSuite(driver: Driver, opts: FixtureOptions & { label?: string } = {}): void {
  const t = (name: string, fn: (fx: Fixture) => Promise<void>) =>
    test(`${opts.label ?? driver}: ${name}`, async () => {
      const fx = await makeFixture(driver, opts);
      try {
        await fn(fx);
      } finally {
        await fx.close();
      }
    });

  t('Basic: prepare, write, commit, build on it', async (fx) => {
    await layer(fx, 'base', undefined, async (d) => {
      await mkdir(path.join(d, 'foo'));
      await writeFile(path.join(d, 'foo', 'bar'), 'bar');
      await writeFile(path.join(d, 'baz'), 'baz');
    });
    const mounts = await fx.sn.prepare('next', 'base');
    assert.deepEqual(await fx.sn.mounts('next'), mounts);
    await fx.withMount(mounts, async (d) => {
      assert.equal(await readFile(path.join(d, 'foo', 'bar'), 'utf8'), 'bar');
      await writeFile(path.join(d, 'foo', 'bar2'), 'bar2');
      await rm(path.join(d, 'baz'));
    });
    await fx.sn.commit('top', 'next');
    await assert.rejects(fx.sn.stat('next'), NotFound);
    await viewFiles(fx, 'top', 'check', async (d) => {
      assert.deepEqual((await readdir(d)).sort(), ['foo']);
      assert.deepEqual((await readdir(path.join(d, 'foo'))).sort(), ['bar', 'bar2']);
    });
  });

  t('StatActive', async (fx) => {
    await layer(fx, 'base', undefined, async () => {});
    await fx.sn.prepare('active', 'base', { 'strata.test': 'yes' });
    const info = await fx.sn.stat('active');
    assert.equal(info.kind, 'active');
    assert.equal(info.name, 'active');
    assert.equal(info.parent, 'base');
    assert.deepEqual(info.labels, { 'strata.test': 'yes' });
    assert.ok(Math.abs(info.created - Date.now()) < 60_000);
  });

  t('StatCommitted', async (fx) => {
    await layer(fx, 'base', undefined, async () => {});
    await fx.sn.prepare('active', 'base');
    await fx.sn.commit('done', 'active', { l: 'v' });
    const info = await fx.sn.stat('done');
    assert.equal(info.kind, 'committed');
    assert.equal(info.parent, 'base');
    assert.deepEqual(info.labels, { l: 'v' });
    await assert.rejects(fx.sn.mounts('done'), InvalidParameter);
    await assert.rejects(fx.sn.commit('again', 'done'), InvalidParameter);
  });

  t('Transitivity: a child sees its grandparent through its parent', async (fx) => {
    await layer(fx, 'a', undefined, async (d) => {
      await writeFile(path.join(d, 'a'), 'from a');
      await writeFile(path.join(d, 'shared'), 'a');
    });
    await layer(fx, 'b', 'a', async (d) => writeFile(path.join(d, 'shared'), 'b'));
    await fx.sn.prepare('c', 'b');
    assert.equal((await fx.sn.stat('c')).parent, 'b');
    assert.equal((await fx.sn.stat('b')).parent, 'a');
    await fx.withMount(await fx.sn.mounts('c'), async (d) => {
      assert.equal(await readFile(path.join(d, 'a'), 'utf8'), 'from a');
      assert.equal(await readFile(path.join(d, 'shared'), 'utf8'), 'b');
    });
  });

  t('PrepareView: keys are unique, parents must exist and be committed', async (fx) => {
    await layer(fx, 'base', undefined, async (d) => writeFile(path.join(d, 'f'), 'x'));
    await fx.sn.view('v', 'base');
    assert.equal((await fx.sn.stat('v')).kind, 'view');
    await assert.rejects(fx.sn.view('v', 'base'), Conflict);
    await assert.rejects(fx.sn.prepare('v', 'base'), Conflict);
    await assert.rejects(fx.sn.prepare('base'), Conflict);
    await assert.rejects(fx.sn.view('w', 'missing'), NotFound);
    await fx.sn.prepare('act');
    await assert.rejects(fx.sn.prepare('child', 'act'), InvalidParameter);
    await assert.rejects(fx.sn.commit('base', 'act'), Conflict);
    await fx.withMount(await fx.sn.mounts('v'), async (d) =>
      assert.equal(await readFile(path.join(d, 'f'), 'utf8'), 'x'),
    );
  });

  t('Remove: refused with children, then removes row and directory', async (fx) => {
    await layer(fx, 'base', undefined, async () => {});
    await fx.sn.prepare('child', 'base');
    await assert.rejects(fx.sn.remove('base'), Conflict);
    const before = await readdir(fx.root);
    await fx.sn.remove('child');
    await fx.sn.remove('base');
    await assert.rejects(fx.sn.stat('base'), NotFound);
    await assert.rejects(fx.sn.remove('base'), NotFound);
    assert.equal(before.length, 2);
    assert.deepEqual(await readdir(fx.root), []);
  });

  t('Walk lists every snapshot with its kind and parent', async (fx) => {
    await layer(fx, 'sha256:one', undefined, async () => {});
    await fx.sn.prepare('container-x', 'sha256:one');
    await fx.sn.view('view-y', 'sha256:one');
    const seen: SnapshotInfo[] = [];
    await fx.sn.walk((i) => void seen.push(i));
    const brief = seen.map((i) => [i.name, i.kind, i.parent ?? '']).sort();
    assert.deepEqual(brief, [
      ['container-x', 'active', 'sha256:one'],
      ['sha256:one', 'committed', ''],
      ['view-y', 'view', 'sha256:one'],
    ]);
  });

  t('LayerFileupdate: each layer sees its own version of a file', async (fx) => {
    await layer(fx, 'l1', undefined, async (d) => writeFile(path.join(d, 'foo'), 'v1'));
    await layer(fx, 'l2', 'l1', async (d) => writeFile(path.join(d, 'foo'), 'version two'));
    await layer(fx, 'l3', 'l2', async (d) => writeFile(path.join(d, 'foo'), '3'));
    for (const [name, want] of [
      ['l1', 'v1'],
      ['l2', 'version two'],
      ['l3', '3'],
    ]) {
      await viewFiles(fx, name, `v-${name}`, async (d) =>
        assert.equal(await readFile(path.join(d, 'foo'), 'utf8'), want),
      );
    }
  });

  t('RemoveDirectoryInLowerLayer', async (fx) => {
    await layer(fx, 'l1', undefined, async (d) => {
      await mkdir(path.join(d, 'a', 'b', 'c'), { recursive: true });
      await writeFile(path.join(d, 'a', 'b', 'c', 'f'), 'f');
      await writeFile(path.join(d, 'keep'), 'k');
    });
    await layer(fx, 'l2', 'l1', async (d) => rm(path.join(d, 'a'), { recursive: true }));
    await layer(fx, 'l3', 'l2', async (d) => {
      assert.equal(await exists(path.join(d, 'a')), false);
      await mkdir(path.join(d, 'a'));
      await writeFile(path.join(d, 'a', 'new'), 'n');
    });
    await viewFiles(fx, 'l3', 'check', async (d) => {
      assert.deepEqual(await readdir(path.join(d, 'a')), ['new']);
      assert.deepEqual((await readdir(d)).sort(), ['a', 'keep']);
    });
  });

  t('DeletedFilesInChildSnapshot: a deletion through the mount hides the lower file', async (fx) => {
    await layer(fx, 'l1', undefined, async (d) => {
      await writeFile(path.join(d, 'foo'), 'foo');
      await writeFile(path.join(d, 'bar'), 'bar');
    });
    await layer(fx, 'l2', 'l1', async (d) => rm(path.join(d, 'foo')));
    await viewFiles(fx, 'l2', 'check', async (d) => assert.deepEqual(await readdir(d), ['bar']));
    const src = await fx.sn.diffSource('l2');
    if (driver === 'overlay2') {
      assert.equal(src.kind, 'overlay');
      // The kernel records the deletion as a whiteout: a 0/0 character device in the upper dir.
      const st = await stat(path.join(src.upper, 'foo'));
      assert.ok(st.isCharacterDevice());
      assert.equal(st.rdev, 0);
    } else if (driver === 'fuse-overlayfs') {
      assert.equal(src.kind, 'overlay');
      // fuse-overlayfs writes the kernel's whiteout where the filesystem takes a 0/0 device,
      // the tar's .wh. file where it does not (overlayfs).
      const device = await stat(path.join(src.upper, 'foo')).catch(() => undefined);
      const file = await exists(path.join(src.upper, '.wh.foo'));
      assert.ok((device?.isCharacterDevice() && device.rdev === 0) || file, 'a whiteout in the upper dir');
    } else {
      assert.equal(src.kind, 'naive');
      assert.equal(await exists(path.join(src.upper, 'foo')), false);
      assert.ok(src.kind === 'naive' && src.lower && (await exists(path.join(src.lower, 'foo'))));
    }
  });

  t('ViewReadonly: writes through a view fail with EROFS', async (fx) => {
    await layer(fx, 'l1', undefined, async (d) => writeFile(path.join(d, 'foo'), 'foo'));
    await layer(fx, 'l2', 'l1', async (d) => writeFile(path.join(d, 'bar'), 'bar'));
    for (const parent of ['l1', 'l2']) {
      await viewFiles(fx, parent, `ro-${parent}`, async (d) => {
        await assert.rejects(writeFile(path.join(d, 'new'), 'x'), { code: 'EROFS' });
        await assert.rejects(writeFile(path.join(d, 'foo'), 'x'), { code: 'EROFS' });
        assert.equal(await readFile(path.join(d, 'foo'), 'utf8'), 'foo');
      });
    }
  });

  t('CloseTwice: unmounting twice is fine', async (fx) => {
    const target = await fx.mount(await fx.sn.prepare('a'));
    await writeFile(path.join(target, 'x'), 'x');
    await unmount(target);
    await unmount(target);
    await unmount(path.join(fx.tmp, 'does-not-exist'));
    assert.equal(await exists(path.join(target, 'x')), false);
  });

  t('RootPermission: a new snapshot root is 0755', async (fx) => {
    await fx.withMount(await fx.sn.prepare('a'), async (d) => assert.equal((await stat(d)).mode & 0o7777, 0o755));
    await layer(fx, 'base', undefined, async (d) => writeFile(path.join(d, 'f'), ''));
    await fx.withMount(await fx.sn.prepare('b', 'base'), async (d) =>
      assert.equal((await stat(d)).mode & 0o7777, 0o755),
    );
  });

  t('applyTarget, usage and commit keep files in place', async (fx) => {
    await fx.sn.prepare('extract-1');
    const target = await fx.sn.applyTarget('extract-1');
    assert.equal(
      target.whiteouts,
      { overlay2: 'overlay', 'fuse-overlayfs': 'aufs', vfs: 'naive', btrfs: 'naive' }[driver],
    );
    await writeFile(path.join(target.dir, 'ten'), '0123456789');
    await writeFile(path.join(target.dir, 'five'), '01234');
    await mkdir(path.join(target.dir, 'd'));
    await fx.sn.commit('sha256:l1', 'extract-1');
    assert.deepEqual(await fx.sn.usage('sha256:l1'), { size: 15, inodes: 4 });
    await assert.rejects(fx.sn.applyTarget('sha256:l1'), InvalidParameter);
    await viewFiles(fx, 'sha256:l1', 'v', async (d) =>
      assert.equal(await readFile(path.join(d, 'ten'), 'utf8'), '0123456789'),
    );
    await fx.sn.prepare('container-1', 'sha256:l1');
    const own = await fx.sn.usage('container-1');
    assert.equal(own.size, 0, "a fresh snapshot's own content is empty, whatever the driver copies");
  });

  t("usage counts only a snapshot's own changes: added and modified files, a hard link once", async (fx) => {
    await layer(fx, 'base', undefined, async (d) => {
      await writeFile(path.join(d, 'kept'), 'x'.repeat(1000));
      await writeFile(path.join(d, 'changed'), 'x'.repeat(2000));
      await writeFile(path.join(d, 'gone'), 'x'.repeat(4000));
    });
    await layer(fx, 'child', 'base', async (d) => {
      await writeFile(path.join(d, 'changed'), 'y'.repeat(30));
      await rm(path.join(d, 'gone'));
      await mkdir(path.join(d, 'new'));
      await writeFile(path.join(d, 'new', 'f'), 'z'.repeat(500));
      await link(path.join(d, 'new', 'f'), path.join(d, 'new', 'hard'));
    });
    assert.equal((await fx.sn.usage('child')).size, 530);
    assert.equal((await fx.sn.usage('base')).size, 7000);
    await fx.withMount(await fx.sn.prepare('c', 'child'), async (d) => writeFile(path.join(d, 'kept'), 'k'.repeat(77)));
    assert.equal((await fx.sn.usage('c')).size, 77);
  });

  t('Concurrent prepares of one key: one wins, the loser leaves no directory', async (fx) => {
    await layer(fx, 'base', undefined, async (d) => writeFile(path.join(d, 'f'), 'x'));
    const results = await Promise.allSettled([
      fx.sn.prepare('same', 'base'),
      fx.sn.prepare('same', 'base'),
      fx.sn.view('same', 'base'),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof Conflict, String(r.reason));
    assert.equal((await readdir(fx.root)).length, 2);
    const names: string[] = [];
    await fx.sn.walk((i) => void names.push(i.name));
    assert.deepEqual(names.sort(), ['base', 'same']);
  });

  t('Commit keeps the active labels unless new ones are given', async (fx) => {
    await fx.sn.prepare('a', undefined, { from: 'prepare' });
    await fx.sn.commit('ca', 'a');
    assert.deepEqual((await fx.sn.stat('ca')).labels, { from: 'prepare' });
    await fx.sn.prepare('b', 'ca', { from: 'prepare' });
    await fx.sn.commit('cb', 'b', {});
    assert.deepEqual((await fx.sn.stat('cb')).labels, {});
  });

  t('128LayersMount: an image of 128 layers mounts and shows every layer', async (fx) => {
    let parent: string | undefined;
    for (let i = 1; i <= 128; i++) {
      const name = `sha256:${String(i).padStart(64, '0')}`;
      await layer(fx, name, parent, async (d) => {
        await writeFile(path.join(d, `layer-${i}`), String(i));
        await writeFile(path.join(d, 'top'), String(i));
      });
      parent = name;
    }
    const mounts = await fx.sn.prepare('container-128', parent);
    if (driver === 'overlay2') {
      const lowerdir = mounts[0].options.find((o) => o.startsWith('lowerdir='))!;
      assert.equal(lowerdir.split(':').length, 128);
      assert.ok(mounts[0].options.join(',').length > 4096, 'absolute options should not fit in one page');
    }
    await fx.withMount(mounts, async (d) => {
      assert.equal(await readFile(path.join(d, 'top'), 'utf8'), '128');
      const names = await readdir(d);
      assert.equal(names.length, 129);
      assert.equal(await readFile(path.join(d, 'layer-1'), 'utf8'), '1');
      await writeFile(path.join(d, 'layer-1'), 'changed');
    });
    assert.equal(
      await readFile(path.join((await fx.sn.applyTarget('container-128')).dir, 'layer-1'), 'utf8'),
      'changed',
    );
  });
}
