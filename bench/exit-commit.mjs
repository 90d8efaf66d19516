#!/usr/bin/env node
// A container writes N files of 4 KiB and exits, then `docker commit` makes its writable
// layer an image layer: the two costs a short-lived, file-heavy container puts on a daemon
// (the exit path with its rootfs teardown, and the commit with its durability). Raw HTTP on
// the daemons' sockets, as the docker CLI's own start-up would blur both.
//
// Rounds alternate Strata and the reference daemon (the machine is shared: a ratio taken
// within one round means more than one across rounds); each round prints both and the ratio.
// The run is also split into the container's own time (its first and last reading of
// /proc/uptime, the host's clock, 10 ms steps) and the rest, the daemon's (create, start, exit
// to wait): on a journal-less ext4 the container's file creations alone vary tenfold from round
// to round (the inode allocator skips every inode freed in the last minute or more, one by one,
// for each new file), which drowns what the daemons do.
//
//   node bench/exit-commit.mjs --strata-sock S [--docker-sock D] [--files N] [--rounds R]
//
// Without --strata-sock a Strata daemon is started from this checkout on a scratch data-root.
// The busybox image is loaded into each daemon that lacks it; everything else is removed.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request, waitForPing, median } from './http.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = parseArgs(process.argv.slice(2));
const FILES = Number(args.files ?? 10000);
const ROUNDS = Number(args.rounds ?? 3);
const IMAGE = 'strata-bench:latest';

const { busyboxArchive } = await import(path.join(repo, 'dist/test/container/busybox-image.js')).catch(() => {
  console.error('bench: build first (npm run build)');
  process.exit(2);
});

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-exit-'));
let child;
try {
  const daemons = [{ name: 'strata', socket: args['strata-sock'] ?? (await startStrata()) }];
  if (args['docker-sock']) daemons.push({ name: 'docker', socket: args['docker-sock'] });
  const image = await busyboxArchive(IMAGE);
  for (const d of daemons) {
    const load = await request(d.socket, 'POST', '/v1.41/images/load?quiet=1', image, 'application/x-tar');
    if (load.status !== 200) throw new Error(`${d.name}: load: ${load.status} ${load.body}`);
  }
  const results = Object.fromEntries(daemons.map((d) => [d.name, { run: [], outside: [], commit: [] }]));
  console.log(`# ${FILES} files of 4 KiB, ${ROUNDS} rounds; ms`);
  console.log('# round daemon run_ms commit_ms container_ms outside_ms');
  for (let round = 1; round <= ROUNDS; round++) {
    // Who goes first alternates: the second pays for the first one's writes still in flight.
    const order = round % 2 ? daemons : [...daemons].reverse();
    const line = {};
    for (const d of order) {
      execFileSync('sync'); // neither starts with the other's writes still dirty
      const r = await once(d, round);
      results[d.name].run.push(r.run);
      results[d.name].outside.push(r.run - r.container);
      results[d.name].commit.push(r.commit);
      line[d.name] = r;
      console.log(
        `${round} ${d.name} ${r.run.toFixed(1)} ${r.commit.toFixed(1)} ${r.container.toFixed(0)} ${(r.run - r.container).toFixed(0)}`,
      );
    }
    if (line.docker) {
      const s = line.strata;
      const k = line.docker;
      const outside = (r) => r.run - r.container;
      console.log(
        `${round} strata/docker ${(s.run / k.run).toFixed(3)} ${(s.commit / k.commit).toFixed(3)} - ${(outside(s) / outside(k)).toFixed(3)}`,
      );
    }
  }
  for (const d of daemons) {
    const r = results[d.name];
    console.log(
      `median ${d.name} ${median(r.run).toFixed(1)} ${median(r.commit).toFixed(1)} - ${median(r.outside).toFixed(0)}`,
    );
  }
  if (results.docker) {
    const s = results.strata;
    const k = results.docker;
    console.log(
      `median strata/docker ${(median(s.run) / median(k.run)).toFixed(3)} ${(median(s.commit) / median(k.commit)).toFixed(3)} - ${(median(s.outside) / median(k.outside)).toFixed(3)}`,
    );
  }
} finally {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  fs.rmSync(scratch, { recursive: true, force: true });
}

/** One run (create, start, wait: what `docker run` waits for) and one commit, then removal. */
async function once(d, round) {
  const name = `bench-exit-${process.pid}-${round}`;
  const write = `mkdir /d && awk -v n=${FILES} 'BEGIN { s = sprintf("%4096s", ""); for (i = 0; i < n; i++) { f = "/d/f" i; printf "%s", s > f; close(f) } }'`;
  const script = `cut -d' ' -f1 /proc/uptime && ${write} && cut -d' ' -f1 /proc/uptime`;
  const body = { Image: IMAGE, Cmd: ['sh', '-c', script], HostConfig: { NetworkMode: 'none' } };
  const t0 = process.hrtime.bigint();
  const c = await request(d.socket, 'POST', `/v1.41/containers/create?name=${name}`, body);
  if (c.status !== 201) throw new Error(`${d.name}: create: ${c.status} ${c.body}`);
  const wait = request(d.socket, 'POST', `/v1.41/containers/${name}/wait?condition=next-exit`);
  const s = await request(d.socket, 'POST', `/v1.41/containers/${name}/start`);
  if (s.status !== 204) throw new Error(`${d.name}: start: ${s.status} ${s.body}`);
  const w = await wait;
  if (w.status !== 200 || JSON.parse(w.body).StatusCode !== 0) throw new Error(`${d.name}: wait: ${w.body}`);
  const run = Number(process.hrtime.bigint() - t0) / 1e6;
  const out = await request(d.socket, 'GET', `/v1.41/containers/${name}/logs?stdout=1`);
  const [first, last] = stdoutLines(out.body).map(Number);
  if (!(last >= first)) throw new Error(`${d.name}: the container's clock readings: ${out.body}`);
  const container = (last - first) * 1000;
  const t1 = process.hrtime.bigint();
  const cm = await request(d.socket, 'POST', `/v1.41/commit?container=${name}&repo=${name}&tag=latest`);
  if (cm.status !== 201) throw new Error(`${d.name}: commit: ${cm.status} ${cm.body}`);
  const commit = Number(process.hrtime.bigint() - t1) / 1e6;
  await request(d.socket, 'DELETE', `/v1.41/containers/${name}`);
  await request(d.socket, 'DELETE', `/v1.41/images/${name}:latest`);
  return { run, commit, container };
}

/** The lines of a non-TTY container's stdout out of its multiplexed log stream (8-byte frame headers). */
function stdoutLines(body) {
  const buf = Buffer.from(body); // short ASCII lines: their frame headers survive the UTF-8 decoding
  let text = '';
  for (let i = 0; i + 8 <= buf.length;) {
    const len = buf.readUInt32BE(i + 4);
    if (buf[i] === 1) text += buf.subarray(i + 8, i + 8 + len).toString('utf8');
    i += 8 + len;
  }
  return text.trim().split('\n');
}

async function startStrata() {
  const dir = path.join(scratch, 'strata');
  const socket = path.join(dir, 's.sock');
  const log = fs.openSync(path.join(scratch, 'strata.log'), 'a');
  child = spawn(
    path.join(repo, 'bin/strata'),
    [
      'daemon',
      '--data-root',
      path.join(dir, 'root'),
      '--exec-root',
      path.join(dir, 'exec'),
      '--host',
      `unix://${socket}`,
    ],
    { stdio: ['ignore', log, log] },
  );
  await waitForPing(socket, child);
  return socket;
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) if (argv[i].startsWith('--')) out[argv[i].slice(2)] = argv[++i];
  return out;
}
