// Port of go-archive's breakout harness: every hostile tar is applied into `dest` beside a
// `victim` directory; the victim must be unchanged, and where the tar can only be hostile the
// apply must throw InvalidParameter.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyLayer } from '../../src/archive/index.js';
import { InvalidParameter } from '../../src/errors.js';
import { makeTar, readable, snapshotTree, tempDir, type Spec } from './helpers.js';

interface Case {
  name: string;
  /** The victim's absolute path is passed in so tars can name it. */
  specs: (victim: string) => Spec[];
  /** Prepared in dest before applying (a lower layer's content in a full copy). */
  prepare?: (dest: string, victim: string) => void;
  mustThrow: boolean;
}

const cases: Case[] = [
  { name: 'relative ../ name', specs: () => [{ name: '../victim/hello', content: 'pwned' }], mustThrow: true },
  {
    name: 'absolute name climbing with ..',
    specs: () => [{ name: '/../victim/hello', content: 'pwned' }],
    mustThrow: true,
  },
  {
    name: 'dotdot hidden in the middle',
    specs: () => [{ name: 'a/../../victim/hello', content: 'pwned' }],
    mustThrow: true,
  },
  { name: 'absolute name stays inside', specs: (v) => [{ name: `${v}/hello`, content: 'pwned' }], mustThrow: false },
  {
    name: 'write through a relative symlink planted by an earlier entry',
    specs: () => [
      { name: 'link', type: 'symlink', linkname: '../victim' },
      { name: 'link/hello', content: 'pwned' },
    ],
    mustThrow: true,
  },
  {
    name: 'write through an absolute symlink planted by an earlier entry',
    specs: (v) => [
      { name: 'link', type: 'symlink', linkname: v },
      { name: 'link/hello', content: 'pwned' },
    ],
    mustThrow: true,
  },
  {
    name: 'write through a symlink to /',
    specs: () => [
      { name: 'root', type: 'symlink', linkname: '/' },
      { name: 'root/etc/strata-breakout', content: 'pwned' },
    ],
    mustThrow: true,
  },
  {
    name: 'symlink chain',
    specs: () => [
      { name: 'a', type: 'symlink', linkname: 'b' },
      { name: 'b', type: 'symlink', linkname: 'c/../../victim' },
      { name: 'c/', type: 'directory' },
      { name: 'a/hello', content: 'pwned' },
    ],
    mustThrow: true,
  },
  {
    name: 'symlink chain through directories',
    specs: () => [
      { name: 'd1/', type: 'directory' },
      { name: 'd1/up', type: 'symlink', linkname: '..' },
      { name: 'd1/up2', type: 'symlink', linkname: 'up/..' },
      { name: 'd1/up2/victim/hello', content: 'pwned' },
    ],
    mustThrow: true,
  },
  {
    name: 'hardlink to outside',
    specs: () => [{ name: 'hl', type: 'link', linkname: '../victim/hello' }],
    mustThrow: true,
  },
  {
    name: 'hardlink to an absolute host path',
    specs: (v) => [{ name: 'hl', type: 'link', linkname: `${v}/hello` }],
    mustThrow: true,
  },
  {
    name: 'hardlink through a symlink',
    specs: () => [
      { name: 'dirlink', type: 'symlink', linkname: '../victim' },
      { name: 'hl', type: 'link', linkname: 'dirlink/hello' },
    ],
    mustThrow: true,
  },
  {
    name: 'hardlink to a symlink, then write to it',
    specs: () => [
      { name: 'sym', type: 'symlink', linkname: '../victim/hello' },
      { name: 'hl', type: 'link', linkname: 'sym' },
      { name: 'hl', content: 'pwned' },
      { name: 'sym', content: 'pwned' },
    ],
    mustThrow: false,
  },
  {
    name: 'symlink replaced by a directory entry',
    specs: () => [
      { name: 'link', type: 'symlink', linkname: '../victim' },
      { name: 'link/', type: 'directory' },
      { name: 'link/hello', content: 'inside' },
    ],
    mustThrow: false,
  },
  {
    name: 'whiteout .wh... (".." as the victim)',
    specs: () => [{ name: 'x/', type: 'directory' }, { name: 'x/.wh...' }],
    mustThrow: true,
  },
  { name: 'whiteout of ../victim', specs: () => [{ name: '../.wh.victim' }], mustThrow: true },
  {
    name: 'whiteout through a symlink',
    specs: () => [{ name: 'link', type: 'symlink', linkname: '../victim' }, { name: 'link/.wh.hello' }],
    mustThrow: true,
  },
  {
    name: 'opaque whiteout through a symlink',
    specs: () => [{ name: 'link', type: 'symlink', linkname: '../victim' }, { name: 'link/.wh..wh..opq' }],
    mustThrow: true,
  },
  {
    name: 'pre-existing absolute symlink in the target',
    prepare: (dest) => symlinkSync('/', join(dest, 'evil')),
    specs: (v) => [{ name: `evil${v}/hello`, content: 'pwned' }],
    mustThrow: true,
  },
  {
    name: 'pre-existing relative symlink in the target',
    prepare: (dest) => symlinkSync('../victim', join(dest, 'evil')),
    specs: () => [{ name: 'evil/.wh.hello' }],
    mustThrow: true,
  },
];

for (const whiteouts of ['overlay', 'naive'] as const) {
  for (const c of cases) {
    test(`${whiteouts}: ${c.name}`, async () => {
      const t = tempDir('strata-breakout-');
      try {
        const dest = join(t.path, 'dest');
        const victim = join(t.path, 'victim');
        mkdirSync(dest);
        mkdirSync(victim);
        writeFileSync(join(victim, 'hello'), 'hello');
        c.prepare?.(dest, victim);
        const before = snapshotTree(victim);
        const tar = await makeTar(c.specs(victim));
        const run = applyLayer(readable(tar), dest, { whiteouts, sync: false });
        if (c.mustThrow) {
          await assert.rejects(run, (err: unknown) => {
            assert.ok(err instanceof InvalidParameter, `expected InvalidParameter, got ${String(err)}`);
            return true;
          });
        } else {
          await run;
        }
        assert.deepEqual(snapshotTree(victim), before);
        assert.equal(readFileSync(join(victim, 'hello'), 'utf8'), 'hello');
      } finally {
        t.cleanup();
      }
    });
  }
}
