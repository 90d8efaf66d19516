#!/usr/bin/env node
// `npm run bench`: GET /system/df on Strata and on a reference dockerd, side by side, over raw
// HTTP on their unix sockets (the docker CLI's own start-up would hide the daemons' work).
//
// Both daemons get the same content: N stopped containers with M small files each in their
// writable layers (written with the archive PUT that docker cp uses) and K volumes with J files
// each. Then each daemon answers `runs` df requests; medians and the Strata/Docker ratio are
// printed. Afterwards a scripted mix of writes, deletes, copy-ups and a docker cp goes through
// Strata, and its df figures are compared with what is on disk (apparent sizes of
// non-directories, each inode once: what `du --apparent-size` counts without directories).
//
// Needs root, runc, dockerd, a statically linked busybox and a build (`npm run build`).
// Options: --containers N --files M --volumes K --volume-files J --runs R, --full for the
// issue's size (200×5000 and 100×2000), --docker-sock PATH to use a running dockerd instead of
// starting one, --keep to leave the scratch directory.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request, waitForPing, buildFilesTar, median } from './http.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = parseArgs(process.argv.slice(2));
const N = args.full ? 200 : Number(args.containers ?? 50);
const M = args.full ? 5000 : Number(args.files ?? 2000);
const K = args.full ? 100 : Number(args.volumes ?? 30);
const J = args.full ? 2000 : Number(args['volume-files'] ?? 1000);
const RUNS = Number(args.runs ?? 5);
const IDLE_MS = 3_000;
const IMAGE = 'strata-bench:latest';

const { busyboxArchive } = await import(path.join(repo, 'dist/test/container/busybox-image.js')).catch(() => {
  console.error('bench: build first (npm run build)');
  process.exit(2);
});

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-'));
const children = [];
process.on('exit', () => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); });

try {
  const strata = await startStrata();
  const docker = args['docker-sock'] ? { name: 'dockerd', socket: args['docker-sock'] } : await startDockerd();
  const image = await busyboxArchive(IMAGE);
  console.log(`populating each daemon: ${N} stopped containers × ${M} files, ${K} volumes × ${J} files`);
  const layerTar = await buildFilesTar('data', M, 'c');
  const volumeTar = await buildFilesTar('', J, 'v');
  const results = {};
  for (const d of [strata, docker]) {
    const t0 = Date.now();
    await populate(d, image, layerTar, volumeTar);
    console.log(`  ${d.name}: populated in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // The first call comes at once, before Strata's idle-time warm-up could take any figure.
    d.first = await timedDf(d);
  }
  for (const d of [strata, docker]) {
    const first = d.first;
    const times = [];
    for (let i = 0; i < RUNS; i++) times.push(await timedDf(d));
    results[d.name] = { first, median: median(times), times };
  }
  const s = results.strata;
  const r = results.dockerd;
  console.log('\nGET /system/df (ms)        first call   median of ' + RUNS);
  console.log(`  strata                  ${s.first.toFixed(1).padStart(10)}   ${s.median.toFixed(2).padStart(10)}`);
  console.log(`  dockerd                 ${r.first.toFixed(1).padStart(10)}   ${r.median.toFixed(2).padStart(10)}`);
  console.log(`  strata / dockerd        ${(s.first / r.first).toFixed(4).padStart(10)}   ${(s.median / r.median).toFixed(4).padStart(10)}`);

  // After a restart, Strata takes the figures while it is idle; dockerd walks on the first call.
  if (!args['docker-sock']) {
    const after = {};
    for (const [d, start] of [[strata, startStrata], [docker, startDockerd]]) after[d.name] = await restartedDf(d, start);
    console.log(`\nfirst call after a restart and ${IDLE_MS / 1000} s idle (ms)`);
    console.log(`  strata ${after.strata.toFixed(1)}   dockerd ${after.dockerd.toFixed(1)}   strata / dockerd ${(after.strata / after.dockerd).toFixed(4)}`);
  }

  console.log('\ndf against the disk after a mix of writes (Strata):');
  const ok = await checkAgainstDisk(strata);
  process.exitCode = ok ? 0 : 1;
} finally {
  for (const c of children) {
    if (c.exitCode !== null) continue;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    if (c.exitCode === null) c.kill('SIGKILL');
  }
  for (const m of mountsUnder(scratch).reverse()) { try { execFileSync('umount', ['-l', m]); } catch { /* gone */ } }
  if (!args.keep) fs.rmSync(scratch, { recursive: true, force: true });
}

/** Stops `d`, starts it again on the same data, waits IDLE_MS and times one df. */
async function restartedDf(d, start) {
  const exited = new Promise((r) => d.proc.once('exit', r));
  d.proc.kill('SIGTERM');
  await exited;
  const again = await start();
  Object.assign(d, again);
  await new Promise((r) => setTimeout(r, IDLE_MS));
  return timedDf(d);
}

async function startStrata() {
  const dir = path.join(scratch, 'strata');
  const socket = path.join(dir, 's.sock');
  const log = fs.openSync(path.join(scratch, 'strata.log'), 'a');
  children.push(spawn(path.join(repo, 'bin/strata'), ['daemon', '--data-root', path.join(dir, 'root'),
    '--exec-root', path.join(dir, 'exec'), '--host', `unix://${socket}`],
  { stdio: ['ignore', log, log] }));
  await waitForPing(socket, children.at(-1));
  return { name: 'strata', socket, proc: children.at(-1) };
}

async function startDockerd() {
  const dir = path.join(scratch, 'docker');
  fs.mkdirSync(dir, { recursive: true });
  const socket = path.join(dir, 'd.sock');
  const log = fs.openSync(path.join(scratch, 'dockerd.log'), 'a');
  children.push(spawn('dockerd', ['--data-root', path.join(dir, 'root'), '--exec-root', path.join(dir, 'exec'),
    '--host', `unix://${socket}`, '--pidfile', path.join(dir, 'd.pid'), '--iptables=false', '--bridge=none'],
  { stdio: ['ignore', log, log] }));
  await waitForPing(socket, children.at(-1));
  return { name: 'dockerd', socket, proc: children.at(-1) };
}

async function populate(d, image, layerTar, volumeTar) {
  const load = await request(d.socket, 'POST', '/v1.41/images/load?quiet=1', image, 'application/x-tar');
  if (load.status !== 200) throw new Error(`${d.name}: load: ${load.status} ${load.body}`);
  for (let i = 0; i < N; i++) {
    const c = await request(d.socket, 'POST', `/v1.41/containers/create?name=bench-c${i}`, { Image: IMAGE, Cmd: ['true'] });
    if (c.status !== 201) throw new Error(`${d.name}: create: ${c.status} ${c.body}`);
    const put = await request(d.socket, 'PUT', `/v1.41/containers/bench-c${i}/archive?path=/`, layerTar, 'application/x-tar');
    if (put.status !== 200) throw new Error(`${d.name}: archive: ${put.status} ${put.body}`);
  }
  for (let i = 0; i < K; i++) {
    const v = await request(d.socket, 'POST', '/v1.41/volumes/create', { Name: `bench-v${i}` });
    if (v.status !== 201) throw new Error(`${d.name}: volume: ${v.status} ${v.body}`);
    // Straight into the volume's directory, as a process on the host would: no daemon sees it.
    execFileSync('tar', ['-x', '-C', JSON.parse(v.body).Mountpoint], { input: volumeTar });
  }
}

async function timedDf(d) {
  const t0 = process.hrtime.bigint();
  const r = await request(d.socket, 'GET', '/v1.41/system/df');
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 200) throw new Error(`${d.name}: df: ${r.status} ${r.body}`);
  return ms;
}

/** Writes, deletes, a copy-up and a docker cp through Strata, then df against the disk. */
async function checkAgainstDisk(d) {
  const body = {
    Image: IMAGE, Cmd: ['sh', '-c', [
      'mkdir -p /work /vol/w',
      'i=0; while [ $i -lt 300 ]; do dd if=/dev/zero of=/work/f$i bs=$((i * 13 % 4000 + 1)) count=1 2>/dev/null; cp /work/f$i /vol/w/f$i; i=$((i+1)); done',
      'i=0; while [ $i -lt 300 ]; do rm /work/f$i /vol/w/f$((i+1)); i=$((i+3)); done',
      'echo appended >> /etc/passwd', 'dd if=/dev/zero of=/work/big bs=1000 count=700 2>/dev/null',
      'ln /work/big /work/big-link', 'rm /etc/os-release',
    ].join('; ')],
    HostConfig: { Binds: ['bench-check:/vol'] },
  };
  const c = await request(d.socket, 'POST', '/v1.41/containers/create?name=bench-check', body);
  if (c.status !== 201) throw new Error(`check: create: ${c.body}`);
  await request(d.socket, 'POST', '/v1.41/containers/bench-check/start');
  await request(d.socket, 'POST', '/v1.41/containers/bench-check/wait');
  await request(d.socket, 'PUT', '/v1.41/containers/bench-check/archive?path=/work', await buildFilesTar('cp', 50, 'p'), 'application/x-tar');
  const df = JSON.parse((await request(d.socket, 'GET', '/v1.41/system/df')).body);
  const inspect = JSON.parse((await request(d.socket, 'GET', '/v1.41/containers/bench-check/json')).body);
  const vol = JSON.parse((await request(d.socket, 'GET', '/v1.41/volumes/bench-check')).body);
  const cDf = df.Containers.find((x) => x.Names.includes('/bench-check')).SizeRw;
  const vDf = df.Volumes.find((x) => x.Name === 'bench-check').UsageData.Size;
  const cDisk = apparentSize(inspect.GraphDriver.Data.UpperDir ?? inspect.GraphDriver.Data.Dir);
  const vDisk = apparentSize(vol.Mountpoint);
  // And every container and volume together, as populated above.
  let allCDf = 0, allCDisk = 0, allVDf = 0, allVDisk = 0;
  for (const x of df.Containers) {
    const gd = JSON.parse((await request(d.socket, 'GET', `/v1.41/containers/${x.Id}/json`)).body).GraphDriver.Data;
    allCDf += x.SizeRw;
    allCDisk += apparentSize(gd.UpperDir ?? gd.Dir);
  }
  for (const v of df.Volumes) { allVDf += v.UsageData.Size; allVDisk += apparentSize(v.Mountpoint); }
  let ok = true;
  for (const [what, got, want] of [['container SizeRw', cDf, cDisk], ['volume Size', vDf, vDisk],
    [`all ${df.Containers.length} containers`, allCDf, allCDisk], [`all ${df.Volumes.length} volumes`, allVDf, allVDisk]]) {
    const off = want === 0 ? (got === 0 ? 0 : 1) : Math.abs(got - want) / want;
    ok &&= off <= 0.01;
    console.log(`  ${what.padEnd(18)} df ${String(got).padStart(10)}   disk ${String(want).padStart(10)}   ${(off * 100).toFixed(3)}% ${off <= 0.01 ? 'ok' : 'OFF BY MORE THAN 1%'}`);
  }
  return ok;
}

/** Sum of st_size of every non-directory under `dir`, each inode once (find -printf, like du). */
function apparentSize(dir) {
  const out = execFileSync('find', [dir, '-not', '-type', 'd', '-printf', '%i %s\\n'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const seen = new Map();
  for (const line of out.split('\n')) if (line) { const [ino, size] = line.split(' '); seen.set(ino, Number(size)); }
  let total = 0;
  for (const s of seen.values()) total += s;
  return total;
}

function mountsUnder(dir) {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(dir + '/')).sort();
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const key = a.slice(2);
    if (key === 'full' || key === 'keep') out[key] = true;
    else out[key] = argv[++i];
  }
  return out;
}
