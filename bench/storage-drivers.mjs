#!/usr/bin/env node
// The storage drivers side by side: two Strata daemons from this checkout, one with its
// data-root on a loop-mounted btrfs (--storage-driver btrfs), one on the machine's own
// filesystem (overlay2), timed on what the driver changes:
//   (a) a container's create+start (raw HTTP), and `docker run --rm busybox true`;
//   (b) `strata volume clone` of a 1 GiB volume (a copy sharing extents on btrfs, a copy on ext4);
//   (c) an image mount: `docker run --rm --mount type=image,source=IMG,target=/m busybox true`
//       minus the same run without the mount, for a ~10 MiB and a ~1 GiB image. A mount is a
//       snapshot of the image's layers, so this should not grow with the image's size. The same
//       is taken again through raw HTTP (create, start, wait, rm), without the CLI's start-up.
//
// Rounds alternate which daemon goes first (the machine may be shared: compare within a round).
//
//   sudo node bench/storage-drivers.mjs [--rounds N] [--runs K] [--big-mib M]
//
// (--runs: how many times each docker run is taken within a round; the round keeps the median.)
//
// Everything it makes (daemons, containers, mounts, the loop device, files) is removed at the
// end, also when a step fails or the run is interrupted.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import tar from 'tar-stream';
import { request, waitForPing, median } from './http.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = parseArgs(process.argv.slice(2));
const ROUNDS = Number(args.rounds ?? 5);
const BIG_MIB = Number(args['big-mib'] ?? 1024);
const RUNS = Number(args.runs ?? 3);
const SMALL_MIB = 10;
const VOLUME_MIB = BIG_MIB;

if (process.getuid?.() !== 0) {
  console.error('bench: run as root (it mounts a loop device and starts daemons)');
  process.exit(2);
}
const { busyboxArchive } = await import(path.join(repo, 'dist/test/container/busybox-image.js')).catch(() => {
  console.error('bench: build first (npm run build)');
  process.exit(2);
});

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-drivers-'));
const btrfsImage = path.join(scratch, 'btrfs.img');
const btrfsMount = path.join(scratch, 'btrfs');
const daemons = [];
let cleaned = false;

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    console.error(`bench: ${sig}, cleaning up`);
    cleanup().finally(() => process.exit(130));
  });
}

try {
  await setUp();
  const results = Object.fromEntries(daemons.map((d) => [d.name, {}]));
  const record = (d, key, v) => (results[d.name][key] ??= []).push(v);
  const columns = [
    'create_start',
    'run_rm',
    'clone',
    'imgmount_10M',
    'imgmount_1G',
    'api_run',
    'api_imgmount_10M',
    'api_imgmount_1G',
  ];
  console.log(`# ${ROUNDS} rounds; ms; image mounts: run with the mount minus run without, same round`);
  console.log(`# round daemon ${columns.join(' ')}`);
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 ? daemons : [...daemons].reverse();
    for (const d of order) {
      execFileSync('sync'); // neither starts with the other's writes still dirty
      const r = await oneRound(d, round);
      for (const c of columns) record(d, c, r[c]);
      console.log(`${round} ${d.name} ${columns.map((c) => r[c].toFixed(1)).join(' ')}`);
    }
  }
  console.log('# medians');
  for (const d of daemons) {
    console.log(`median ${d.name} ${columns.map((c) => median(results[d.name][c]).toFixed(1)).join(' ')}`);
  }
  // Ratios of the whole figures only: an image mount's figure is a difference near 0.
  const [b, o] = [results.btrfs, results.overlay2];
  const whole = columns.filter((c) => !c.includes('imgmount'));
  console.log(`# ${whole.join(' ')}`);
  console.log(`median btrfs/overlay2 ${whole.map((c) => (median(b[c]) / median(o[c])).toFixed(3)).join(' ')}`);
} catch (err) {
  console.error(`bench: ${err.stack ?? err}`);
  for (const d of daemons) console.error(`--- ${d.name} log (tail)\n${tail(d.log, 30)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}

async function setUp() {
  fs.mkdirSync(btrfsMount);
  // Room for the content store's blob and the unpacked layer of the big image, the volume
  // and one clone sharing its extents, with slack; sparse, so only what is written is used.
  execFileSync('truncate', ['-s', `${Math.ceil((BIG_MIB * 4) / 1024) + 4}G`, btrfsImage]);
  execFileSync('mkfs.btrfs', ['-q', btrfsImage], { stdio: 'pipe' });
  execFileSync('mount', ['-o', 'loop', btrfsImage, btrfsMount], { stdio: 'pipe' });
  const fsType = execFileSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', scratch], { encoding: 'utf8' }).trim();
  await startStrata('btrfs', btrfsMount, 'btrfs');
  await startStrata('overlay2', path.join(scratch, 'host'), 'overlay2');
  console.log(`# btrfs: loop-mounted btrfs; overlay2: data-root on the host's ${fsType}`);

  const busybox = await busyboxArchive('busybox:latest');
  const smallTar = path.join(scratch, 'small.tar');
  const bigTar = path.join(scratch, 'big.tar');
  await writeDataTar(smallTar, SMALL_MIB, 4);
  await writeDataTar(bigTar, BIG_MIB, 64);
  for (const d of daemons) {
    const load = await request(d.socket, 'POST', '/v1.41/images/load?quiet=1', busybox, 'application/x-tar');
    if (load.status !== 200) throw new Error(`${d.name}: load: ${load.status} ${load.body}`);
    for (const [file, repoName] of [
      [smallTar, 'bench-small'],
      [bigTar, 'bench-big'],
    ]) {
      const t0 = process.hrtime.bigint();
      const r = await upload(d.socket, `/v1.41/images/create?fromSrc=-&repo=${repoName}&tag=latest`, file);
      if (r.status !== 200 || /"error"/.test(r.body)) throw new Error(`${d.name}: import ${repoName}: ${r.body}`);
      console.log(`# ${d.name}: imported ${repoName} in ${ms(t0).toFixed(0)} ms`);
    }
    await fillVolume(d, 'bench-vol', VOLUME_MIB);
  }
  fs.rmSync(smallTar);
  fs.rmSync(bigTar);
}

/** One round on one daemon: every figure once. */
async function oneRound(d, round) {
  const out = {};
  const name = `bench-drivers-${round}`;
  const body = { Image: 'busybox:latest', Cmd: ['sleep', '60'], HostConfig: { NetworkMode: 'none' } };
  let t0 = process.hrtime.bigint();
  const c = await request(d.socket, 'POST', `/v1.41/containers/create?name=${name}`, body);
  if (c.status !== 201) throw new Error(`${d.name}: create: ${c.status} ${c.body}`);
  const s = await request(d.socket, 'POST', `/v1.41/containers/${name}/start`);
  if (s.status !== 204) throw new Error(`${d.name}: start: ${s.status} ${s.body}`);
  out.create_start = ms(t0);
  const rm = await request(d.socket, 'DELETE', `/v1.41/containers/${name}?force=1`);
  if (rm.status !== 204) throw new Error(`${d.name}: rm: ${rm.status} ${rm.body}`);

  // A run is ~0.5 s of which a mount is a small part: each run is taken RUNS times,
  // interleaved, and the round's figure is each one's median.
  const runs = { plain: [], small: [], big: [] };
  for (let i = 0; i < RUNS; i++) {
    runs.plain.push(dockerRun(d, []));
    runs.small.push(dockerRun(d, ['--mount', 'type=image,source=bench-small,target=/m']));
    runs.big.push(dockerRun(d, ['--mount', 'type=image,source=bench-big,target=/m']));
  }
  out.run_rm = median(runs.plain);
  out.imgmount_10M = median(runs.small) - out.run_rm;
  out.imgmount_1G = median(runs.big) - out.run_rm;
  // The same through raw HTTP (create, start, wait, remove), without the docker CLI's own
  // start-up in each figure: the mount's share of a run is clearer on a busy machine.
  const api = { plain: [], small: [], big: [] };
  for (let i = 0; i < RUNS; i++) {
    api.plain.push(await apiRun(d, undefined));
    api.small.push(await apiRun(d, 'bench-small'));
    api.big.push(await apiRun(d, 'bench-big'));
  }
  out.api_run = median(api.plain);
  out.api_imgmount_10M = median(api.small) - out.api_run;
  out.api_imgmount_1G = median(api.big) - out.api_run;

  const target = `bench-vol-clone-${round}`;
  t0 = process.hrtime.bigint();
  const cl = await request(d.socket, 'POST', '/strata/volumes/bench-vol/clone', { Target: target });
  if (cl.status !== 200 && cl.status !== 201) throw new Error(`${d.name}: clone: ${cl.status} ${cl.body}`);
  out.clone = ms(t0);
  const vrm = await request(d.socket, 'DELETE', `/v1.41/volumes/${target}`);
  if (vrm.status !== 204) throw new Error(`${d.name}: volume rm: ${vrm.status} ${vrm.body}`);
  return out;
}

/** create, start, wait and remove of `true` through the API, with an image mount of `image` if given, in ms. */
async function apiRun(d, image) {
  const Mounts = image ? [{ Type: 'image', Source: image, Target: '/m', ReadOnly: true }] : undefined;
  const body = { Image: 'busybox:latest', Cmd: ['true'], HostConfig: { NetworkMode: 'none', Mounts } };
  const t0 = process.hrtime.bigint();
  const c = await request(d.socket, 'POST', '/v1.48/containers/create', body);
  if (c.status !== 201) throw new Error(`${d.name}: create: ${c.status} ${c.body}`);
  const id = JSON.parse(c.body).Id;
  const wait = request(d.socket, 'POST', `/v1.48/containers/${id}/wait?condition=next-exit`);
  const s = await request(d.socket, 'POST', `/v1.48/containers/${id}/start`);
  if (s.status !== 204) throw new Error(`${d.name}: start: ${s.status} ${s.body}`);
  const w = await wait;
  if (w.status !== 200 || JSON.parse(w.body).StatusCode !== 0) throw new Error(`${d.name}: wait: ${w.body}`);
  const rm = await request(d.socket, 'DELETE', `/v1.48/containers/${id}`);
  if (rm.status !== 204) throw new Error(`${d.name}: rm: ${rm.status} ${rm.body}`);
  return ms(t0);
}

/** `docker run --rm … busybox true` through the docker CLI, in ms. */
function dockerRun(d, extra) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('docker', ['run', '--rm', '--network', 'none', ...extra, 'busybox:latest', 'true'], {
    env: { ...process.env, DOCKER_HOST: `unix://${d.socket}` },
    encoding: 'utf8',
  });
  const t = ms(t0);
  if (r.status !== 0) throw new Error(`${d.name}: docker run ${extra.join(' ')}: ${r.stderr || r.error}`);
  return t;
}

/** A volume holding `mib` MiB in 16 files, written on the host into its mountpoint. */
async function fillVolume(d, name, mib) {
  const v = await request(d.socket, 'POST', '/v1.41/volumes/create', { Name: name });
  if (v.status !== 201) throw new Error(`${d.name}: volume create: ${v.status} ${v.body}`);
  const dir = JSON.parse(v.body).Mountpoint;
  const chunk = patterned(1 << 20);
  const perFile = Math.max(1, Math.floor(mib / 16));
  for (let f = 0; f < 16; f++) {
    const fd = fs.openSync(path.join(dir, `f${f}`), 'w', 0o644);
    for (let i = 0; i < perFile; i++) fs.writeSync(fd, chunk);
    fs.closeSync(fd);
  }
  execFileSync('sync');
}

/** A plain tar of `mib` MiB of incompressible-looking data in `files` files, streamed to disk. */
async function writeDataTar(file, mib, files) {
  const pack = tar.pack();
  const out = fs.createWriteStream(file);
  const done = new Promise((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
  });
  pack.pipe(out);
  pack.entry({ name: 'data/', type: 'directory', mode: 0o755 });
  const size = Math.floor((mib << 20) / files);
  const chunk = patterned(1 << 20);
  for (let f = 0; f < files; f++) {
    const entry = pack.entry({ name: `data/f${f}`, size, mode: 0o644 });
    for (let left = size; left > 0; left -= chunk.length) {
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      if (!entry.write(piece)) await new Promise((r) => entry.once('drain', r));
    }
    entry.end();
    await new Promise((r) => entry.once('finish', r));
  }
  pack.finalize();
  await done;
}

/** Bytes that neither compress nor read as holes. */
function patterned(n) {
  const b = Buffer.alloc(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b;
}

/** POSTs a file as the request body, streamed. */
function upload(socketPath, urlPath, file) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath,
        method: 'POST',
        path: urlPath,
        headers: { 'Content-Type': 'application/x-tar', 'Content-Length': fs.statSync(file).size },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    fs.createReadStream(file).on('error', reject).pipe(req);
  });
}

/** Starts a daemon from this checkout with its data-root under `base`. */
async function startStrata(name, base, driver) {
  const dir = path.join(base, `strata-${name}`);
  const socket = path.join(scratch, `${name}.sock`);
  const log = path.join(scratch, `${name}.log`);
  fs.mkdirSync(dir, { recursive: true });
  const fd = fs.openSync(log, 'a');
  const child = spawn(
    path.join(repo, 'bin/strata'),
    [
      'daemon',
      '--data-root',
      path.join(dir, 'root'),
      '--exec-root',
      path.join(scratch, `exec-${name}`),
      '--host',
      `unix://${socket}`,
      '--storage-driver',
      driver,
    ],
    { stdio: ['ignore', fd, fd] },
  );
  fs.closeSync(fd);
  const d = { name, socket, child, log };
  daemons.push(d); // before the wait: a daemon that never answers is still stopped at cleanup
  await waitForPing(socket, child);
}

/** Stops the daemons (after removing their containers), then unmounts and deletes what is left. */
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const d of daemons) {
    if (d.child.exitCode !== null) continue;
    try {
      const list = await request(d.socket, 'GET', '/v1.41/containers/json?all=1');
      for (const c of JSON.parse(list.body)) await request(d.socket, 'DELETE', `/v1.41/containers/${c.Id}?force=1`);
    } catch {
      /* the daemon is not answering: it is killed below */
    }
    const exited = new Promise((r) => d.child.once('exit', r));
    d.child.kill('SIGTERM');
    const timer = setTimeout(() => d.child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
  // Whatever a daemon that did not stop cleanly left mounted under the scratch directory,
  // deepest first, then the btrfs itself and its loop device.
  const under = mountPointsUnder(scratch).sort((a, b) => b.length - a.length);
  for (const m of under) {
    if (spawnSync('umount', [m]).status !== 0) spawnSync('umount', ['-l', m]);
  }
  const attached = spawnSync('losetup', ['-j', btrfsImage], { encoding: 'utf8' }).stdout ?? '';
  for (const line of attached.split('\n').filter(Boolean)) spawnSync('losetup', ['-d', line.split(':')[0]]);
  fs.rmSync(scratch, { recursive: true, force: true });
}

function mountPointsUnder(dir) {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((mp) => mp && (mp === dir || mp.startsWith(dir + '/')))
    .map((mp) => mp.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))));
}

function tail(file, n) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

function ms(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) if (argv[i].startsWith('--')) out[argv[i].slice(2)] = argv[++i];
  return out;
}
