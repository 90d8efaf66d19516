// exportLayer and computeChanges against a real overlayfs upper directory.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, linkSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { applyLayer, computeChanges, exportLayer } from '../../src/archive/index.js';
import * as sys from '../../src/native/syscalls.js';
import { collect, readable, snapshotTree, tempDir } from './helpers.js';
import { extract } from '../../src/archive/tarstream.js';

const CAP = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

let t: { path: string; cleanup: () => void };
const mounted: string[] = [];
const p = (...parts: string[]) => join(t.path, ...parts);

function mountOverlay(target: string, lowers: string[], upper?: string, work?: string): void {
  mkdirSync(target, { recursive: true });
  const opts = upper
    ? `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${work}`
    : `lowerdir=${lowers.join(':')}`;
  sys.mount('overlay', target, 'overlay', 0, opts);
  mounted.push(target);
}

function unmount(target: string): void {
  sys.umount2(target, 0);
  mounted.splice(mounted.indexOf(target), 1);
}

before(() => {
  t = tempDir('strata-overlay-');
  for (const d of ['lower/etc', 'lower/data/sub', 'lower/bin', 'lower/keep', 'upper', 'work'])
    mkdirSync(p(d), { recursive: true });
  writeFileSync(p('lower/etc/passwd'), 'root\n');
  writeFileSync(p('lower/etc/hosts'), '127.0.0.1\n');
  writeFileSync(p('lower/data/a'), 'a');
  writeFileSync(p('lower/data/sub/b'), 'b');
  writeFileSync(p('lower/bin/sh'), 'sh');
  writeFileSync(p('lower/keep/x'), 'x');
  mountOverlay(p('merged'), [p('lower')], p('upper'), p('work'));
  const m = (x: string) => p('merged', x);
  appendFileSync(m('etc/passwd'), 'user\n');
  rmSync(m('etc/hosts'));
  rmSync(m('data'), { recursive: true });
  mkdirSync(m('data'));
  writeFileSync(m('data/new'), 'new');
  writeFileSync(m('newfile'), 'n');
  linkSync(m('newfile'), m('newlink'));
  chmodSync(m('keep/x'), 0o700);
  sys.lsetxattr(m('bin/sh'), 'security.capability', CAP);
  symlinkSync('/etc/passwd', m('sym'));
  unmount(p('merged'));
});

after(() => {
  for (const m of [...mounted].reverse()) sys.umount2(m, sys.MNT_DETACH);
  t.cleanup();
});

test('computeChanges lists what docker diff shows for an overlay upper', async () => {
  const changes = await computeChanges({ kind: 'overlay', upper: p('upper'), lowers: [p('lower')] });
  assert.deepEqual(
    changes.map((c) => `${'CAD'[c.Kind]} ${c.Path}`),
    [
      'C /bin',
      'C /bin/sh',
      'C /data',
      'A /data/new',
      'D /data/a',
      'D /data/sub',
      'C /etc',
      'D /etc/hosts',
      'C /etc/passwd',
      'C /keep',
      'C /keep/x',
      'A /newfile',
      'A /newlink',
      'A /sym',
    ],
  );
});

test('exportLayer turns overlay whiteouts into .wh. entries and keeps hardlinks', async () => {
  const tar = await collect(exportLayer({ kind: 'overlay', upper: p('upper'), lowers: [p('lower')] }));
  const entries: Array<{ name: string; type: string; linkname: string | null; pax: unknown }> = [];
  const ex = extract();
  ex.on('entry', (h, s, next) => {
    entries.push({ name: h.name, type: h.type, linkname: h.linkname ?? null, pax: h.pax });
    s.on('end', () => next());
    s.resume();
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', () => resolve());
    ex.on('error', reject);
    ex.end(tar);
  });
  const names = entries.map((e) => e.name);
  assert.ok(names.includes('etc/.wh.hosts'));
  assert.ok(!names.includes('etc/hosts'));
  const opq = names.indexOf('data/.wh..wh..opq');
  assert.ok(opq > names.indexOf('data/') && opq < names.indexOf('data/new'));
  assert.equal(entries.find((e) => e.name === 'newlink')?.type, 'link');
  assert.equal(entries.find((e) => e.name === 'newlink')?.linkname, 'newfile');
  assert.equal(entries.find((e) => e.name === 'sym')?.linkname, '/etc/passwd');
  const dataPax = (entries.find((e) => e.name === 'data/')?.pax ?? {}) as Record<string, string>;
  assert.ok(!Object.keys(dataPax).some((k) => k.includes('overlay')));
  // parents before children
  for (const [i, n] of names.entries()) {
    const parent = n.replace(/\/$/, '').split('/').slice(0, -1).join('/');
    if (parent) assert.ok(names.indexOf(`${parent}/`) < i || !names.includes(`${parent}/`), n);
  }
});

test('an exported overlay layer round-trips through applyLayer in both whiteout formats', async () => {
  const tar = await collect(exportLayer({ kind: 'overlay', upper: p('upper'), lowers: [p('lower')] }));
  mountOverlay(p('view1'), [p('upper'), p('lower')]);
  const expected = snapshotTree(p('view1'), { seconds: true });
  unmount(p('view1'));

  mkdirSync(p('upper2'));
  await applyLayer(readable(tar), p('upper2'), { whiteouts: 'overlay', sync: false });
  mountOverlay(p('view2'), [p('upper2'), p('lower')]);
  try {
    assert.deepEqual(snapshotTree(p('view2'), { seconds: true }), expected);
    assert.deepEqual(sys.lgetxattr(p('view2/bin/sh'), 'security.capability'), CAP);
  } finally {
    unmount(p('view2'));
  }

  execFileSync('cp', ['-a', p('lower'), p('full')]);
  await applyLayer(readable(tar), p('full'), { whiteouts: 'naive', sync: false });
  assert.deepEqual(snapshotTree(p('full'), { seconds: true }), expected);
  assert.deepEqual(sys.lgetxattr(p('full/bin/sh'), 'security.capability'), CAP);

  // The naive (vfs) pair gives the same changes back.
  const naive = await computeChanges({ kind: 'naive', upper: p('full'), lower: p('lower') });
  const paths = naive.map((c) => `${'CAD'[c.Kind]} ${c.Path}`);
  const fromUpper = await computeChanges({ kind: 'overlay', upper: p('upper'), lowers: [p('lower')] });
  assert.deepEqual([...paths].sort(), fromUpper.map((c) => `${'CAD'[c.Kind]} ${c.Path}`).sort());
  for (const want of [
    'C /bin/sh',
    'D /etc/hosts',
    'C /etc/passwd',
    'A /data/new',
    'D /data/a',
    'C /keep/x',
    'A /newfile',
    'A /newlink',
    'A /sym',
  ]) {
    assert.ok(paths.includes(want), `${want} in ${paths.join(', ')}`);
  }
  const naiveTar = await collect(exportLayer({ kind: 'naive', upper: p('full'), lower: p('lower') }));
  execFileSync('cp', ['-a', p('lower'), p('full2')]);
  await applyLayer(readable(naiveTar), p('full2'), { whiteouts: 'naive', sync: false });
  assert.deepEqual(snapshotTree(p('full2'), { seconds: true }), expected);
});
