// How long a container's writable layer takes to make on a big image layer: a btrfs snapshot
// against vfs' full copy (on ext4, and on btrfs where cp shares blocks by reflink). Run as root
// after a build: `node bench/snapshot-create.mjs [MiB] [files]` (default 1024 MiB in 20,000 files).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openMetaDb } from '../dist/src/meta/db.js';
import { createSnapshotter } from '../dist/src/snapshot/index.js';
import { silentLogger } from '../dist/src/util/log.js';

const mib = Number(process.argv[2] ?? 1024);
const files = Number(process.argv[3] ?? 20000);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-snap-'));
const mnt = path.join(tmp, 'btrfs');
fs.mkdirSync(mnt);
execFileSync('truncate', ['-s', `${Math.max(4, Math.ceil((mib * 3) / 1024) + 2)}G`, path.join(tmp, 'img')]);
execFileSync('mkfs.btrfs', ['-q', path.join(tmp, 'img')], { stdio: 'ignore' });
execFileSync('mount', ['-o', 'loop', path.join(tmp, 'img'), mnt]);

async function run(driver, base) {
  const dataRoot = path.join(base, `root-${driver}`);
  fs.mkdirSync(dataRoot, { recursive: true });
  const db = openMetaDb(path.join(dataRoot, 'strata.db'));
  const sn = await createSnapshotter(driver, { root: path.join(dataRoot, 'snapshots', driver), db, log: silentLogger });
  await sn.prepare('extract-1');
  const dir = (await sn.applyTarget('extract-1')).dir;
  const chunk = Buffer.alloc(Math.floor((mib << 20) / files), 0x5a);
  for (let i = 0; i < files; i++) {
    const d = path.join(dir, `d${i % 100}`);
    if (i < 100) fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, `f${i}`), chunk);
  }
  execFileSync('sync');
  await sn.commit('layer', 'extract-1');
  const t0 = process.hrtime.bigint();
  await sn.prepare('container', 'layer');
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const t1 = process.hrtime.bigint();
  await sn.remove('container');
  const rmMs = Number(process.hrtime.bigint() - t1) / 1e6;
  await sn.remove('layer');
  db.close();
  return { ms, rmMs };
}

try {
  const results = {
    'btrfs snapshot': await run('btrfs', mnt),
    'vfs copy on btrfs (reflink)': await run('vfs', mnt),
    [`vfs copy on ${execFileSync('stat', ['-f', '-c', '%T', tmp], { encoding: 'utf8' }).trim()}`]: await run('vfs', tmp),
  };
  console.log(`writable layer on a ${mib} MiB layer of ${files} files:`);
  for (const [k, v] of Object.entries(results))
    console.log(`  ${k.padEnd(32)} create ${v.ms.toFixed(1).padStart(9)} ms   remove ${v.rmMs.toFixed(1).padStart(9)} ms`);
} finally {
  execFileSync('umount', [mnt]);
  fs.rmSync(tmp, { recursive: true, force: true });
}
