// docker diff and docker export read the writable layer (the snapshot), not the live rootfs:
// A/C/D from the snapshot's diff source, and an export that stacks the layer on its lowers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { extract } from '../../src/archive/tarstream.js';
import { containerChanges, exportContainer } from '../../src/container/changes-ops.js';
import { mknod, S_IFCHR } from '../../src/native/syscalls.js';
import { NotFound } from '../../src/errors.js';
import { fakeEngine } from './fake-engine.js';

async function exportNames(f: ReturnType<typeof fakeEngine>): Promise<Map<string, string>> {
  const out = new PassThrough();
  const files = new Map<string, string>();
  const ex = extract();
  ex.on('entry', (h, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    stream.on('end', () => {
      files.set(h.name.replace(/\/$/, ''), Buffer.concat(chunks).toString());
      next();
    });
  });
  const done = new Promise<void>((resolve, reject) => {
    ex.on('finish', () => resolve());
    ex.on('error', reject);
  });
  out.pipe(ex);
  let started = false;
  await exportContainer(f.engine, 'box', out, () => {
    started = true;
  });
  await done;
  assert.ok(started);
  return files;
}

/** An image layer (lower) and a writable layer (upper) in overlay format: new, changed and whited-out files. */
function overlayLayers(dir: string): { upper: string; lower: string } {
  const lower = path.join(dir, 'lower');
  const upper = path.join(dir, 'upper');
  fs.mkdirSync(path.join(lower, 'etc'), { recursive: true });
  fs.mkdirSync(path.join(lower, 'var/lib'), { recursive: true });
  fs.writeFileSync(path.join(lower, 'etc/passwd'), 'root\n');
  fs.writeFileSync(path.join(lower, 'etc/os-release'), 'x\n');
  fs.mkdirSync(path.join(upper, 'etc'), { recursive: true });
  fs.mkdirSync(path.join(upper, 'var/lib/app'), { recursive: true });
  fs.writeFileSync(path.join(upper, 'etc/passwd'), 'root\nchanged\n');
  mknod(path.join(upper, 'etc/os-release'), S_IFCHR, 0, 0);
  fs.writeFileSync(path.join(upper, 'var/lib/app/state'), '1\n');
  fs.writeFileSync(path.join(upper, 'new.txt'), '');
  fs.mkdirSync(path.join(upper, 'vol'));
  return { upper, lower };
}

test('docker diff: A/C/D of the writable layer', async () => {
  const f = fakeEngine();
  try {
    const { upper, lower } = overlayLayers(f.dir);
    f.setDiffSource({ kind: 'overlay', upper, lowers: [lower] });
    const changes = await containerChanges(f.engine, 'box');
    const lines = changes.map((c) => `${'CAD'[c.Kind]} ${c.Path}`);
    for (const want of [
      'A /new.txt',
      'A /var/lib/app',
      'A /var/lib/app/state',
      'C /var/lib',
      'C /etc',
      'C /etc/passwd',
      'D /etc/os-release',
      'A /vol',
    ]) {
      assert.ok(lines.includes(want), `${want} missing from ${lines.join(', ')}`);
    }
    await assert.rejects(containerChanges(f.engine, 'nope'), NotFound);
  } finally {
    f.cleanup();
  }
});

test('docker export: overlay layers stacked read-only, whiteouts applied, nothing left mounted', async () => {
  const f = fakeEngine();
  try {
    const { upper, lower } = overlayLayers(f.dir);
    f.setDiffSource({ kind: 'overlay', upper, lowers: [lower] });
    const files = await exportNames(f);
    assert.equal(files.get('etc/passwd'), 'root\nchanged\n');
    assert.equal(files.has('etc/os-release'), false, 'a deleted file is not exported');
    assert.equal(files.get('var/lib/app/state'), '1\n');
    assert.ok(files.has('vol'), 'mountpoint directories are part of the filesystem');
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    assert.equal(mounts.includes(f.dir), false, 'the export view is unmounted');
    assert.deepEqual(fs.readdirSync(path.join(f.dir, 'tmp')), [], 'the staging dir is removed');
  } finally {
    f.cleanup();
  }
});

test('docker export: vfs exports the full copy', async () => {
  const f = fakeEngine();
  try {
    fs.mkdirSync(path.join(f.rootfs, 'bin'));
    fs.writeFileSync(path.join(f.rootfs, 'bin/sh'), '#!');
    f.setDiffSource({ kind: 'naive', upper: f.rootfs, lower: undefined });
    const files = await exportNames(f);
    assert.equal(files.get('bin/sh'), '#!');
  } finally {
    f.cleanup();
  }
});
