#!/usr/bin/env node
// Idle memory of a daemon's process tree (RSS and PSS, summed over the daemon and its
// children: for Docker, dockerd and containerd): once right after start-up (Strata only: the
// reference daemon is whatever state it is in) and again after some activity (an image
// load, short runs, a container writing files and its commit, system df, ps), each after a
// few seconds of idle. Rounds alternate Strata and the reference daemon.
//
//   node bench/idle-rss.mjs [--docker-sock D] [--rounds R] [--node-flags "--flag ..."]
//
// Each round starts a fresh Strata from this checkout on a scratch data-root (with
// --node-flags, node runs dist/src/cli/main.js with those flags instead of bin/strata's).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request, waitForPing, median } from './http.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = parseArgs(process.argv.slice(2));
const ROUNDS = Number(args.rounds ?? 3);
const IDLE_MS = Number(args['idle-ms'] ?? 5000);
const IMAGE = 'strata-bench:latest';

const { busyboxArchive } = await import(path.join(repo, 'dist/test/container/busybox-image.js')).catch(() => {
  console.error('bench: build first (npm run build)');
  process.exit(2);
});
const image = await busyboxArchive(IMAGE);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-rss-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mib = (kib) => (kib / 1024).toFixed(1);

try {
  const rows = { fresh: [], strata: [], docker: [] };
  console.log('# round daemon when rss_mib pss_mib processes');
  for (let round = 1; round <= ROUNDS; round++) {
    const order = args['docker-sock'] && round % 2 === 0 ? ['docker', 'strata'] : ['strata', 'docker'];
    const line = {};
    for (const who of order) {
      if (who === 'docker') {
        if (!args['docker-sock']) continue;
        const pid = listenerPid(args['docker-sock']);
        await activity(args['docker-sock'], `d${round}`);
        await sleep(IDLE_MS);
        const m = treeMemory(pid);
        rows.docker.push(m.rss);
        line.docker = m;
        console.log(`${round} docker after-activity ${mib(m.rss)} ${mib(m.pss)} ${m.procs}`);
        continue;
      }
      const s = await startStrata(round);
      try {
        await sleep(IDLE_MS);
        const fresh = treeMemory(s.child.pid);
        rows.fresh.push(fresh.rss);
        console.log(`${round} strata fresh ${mib(fresh.rss)} ${mib(fresh.pss)} ${fresh.procs}`);
        await activity(s.socket, `s${round}`);
        await sleep(IDLE_MS);
        const m = treeMemory(s.child.pid);
        rows.strata.push(m.rss);
        line.strata = m;
        console.log(`${round} strata after-activity ${mib(m.rss)} ${mib(m.pss)} ${m.procs}`);
      } finally {
        await stop(s.child);
      }
    }
    if (line.docker && line.strata)
      console.log(`${round} strata/docker after-activity ${(line.strata.rss / line.docker.rss).toFixed(3)} rss`);
  }
  console.log(`median strata fresh ${mib(median(rows.fresh))} MiB, after activity ${mib(median(rows.strata))} MiB`);
  if (rows.docker.length) {
    console.log(
      `median docker after activity ${mib(median(rows.docker))} MiB; strata/docker ${(median(rows.strata) / median(rows.docker)).toFixed(3)}`,
    );
  }
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}

/** Some of everything a daemon does: load, 20 short runs, 2000 files written and committed, df, ps. */
async function activity(socket, tag) {
  const load = await request(socket, 'POST', '/v1.41/images/load?quiet=1', image, 'application/x-tar');
  if (load.status !== 200) throw new Error(`load: ${load.status} ${load.body}`);
  const run = async (name, cmd) => {
    const c = await request(socket, 'POST', `/v1.41/containers/create?name=${name}`, {
      Image: IMAGE,
      Cmd: ['sh', '-c', cmd],
      HostConfig: { NetworkMode: 'none' },
    });
    if (c.status !== 201) throw new Error(`create: ${c.status} ${c.body}`);
    const wait = request(socket, 'POST', `/v1.41/containers/${name}/wait?condition=next-exit`);
    await request(socket, 'POST', `/v1.41/containers/${name}/start`);
    await wait;
    await request(socket, 'GET', `/v1.41/containers/${name}/logs?stdout=1`);
  };
  const names = [];
  for (let i = 0; i < 20; i++) {
    names.push(`bench-rss-${tag}-${i}`);
    await run(names.at(-1), 'echo hello; ls / > /dev/null');
  }
  const writer = `bench-rss-${tag}-w`;
  names.push(writer);
  await run(writer, `mkdir /d && i=0; while [ $i -lt 2000 ]; do echo $i > /d/f$i; i=$((i+1)); done`);
  const cm = await request(socket, 'POST', `/v1.41/commit?container=${writer}&repo=${writer}&tag=latest`);
  if (cm.status !== 201) throw new Error(`commit: ${cm.status} ${cm.body}`);
  for (let i = 0; i < 5; i++) await request(socket, 'GET', '/v1.41/system/df');
  await request(socket, 'GET', '/v1.41/containers/json?all=1&size=1');
  for (const n of names) await request(socket, 'DELETE', `/v1.41/containers/${n}`);
  await request(socket, 'DELETE', `/v1.41/images/${writer}:latest`);
}

async function startStrata(round) {
  const dir = path.join(scratch, `strata-${round}`);
  const socket = path.join(dir, 's.sock');
  fs.mkdirSync(dir, { recursive: true });
  const log = fs.openSync(path.join(dir, 'log'), 'a');
  const daemonArgs = ['daemon', '--data-root', path.join(dir, 'root'), '--exec-root', path.join(dir, 'exec')];
  daemonArgs.push('--host', `unix://${socket}`);
  const child =
    args['node-flags'] !== undefined
      ? spawn(
          process.execPath,
          [...args['node-flags'].split(' ').filter(Boolean), path.join(repo, 'dist/src/cli/main.js'), ...daemonArgs],
          { stdio: ['ignore', log, log] },
        )
      : spawn(path.join(repo, 'bin/strata'), daemonArgs, { stdio: ['ignore', log, log] });
  await waitForPing(socket, child);
  return { child, socket };
}

async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** RSS and PSS (KiB) of `pid` and all its descendants. */
function treeMemory(pid) {
  const parent = new Map();
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      parent.set(Number(p), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [p, pp] of parent) if (pp === tree[i]) tree.push(p);
  let rss = 0;
  let pss = 0;
  for (const p of tree) {
    try {
      const roll = fs.readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+)/m.exec(roll)?.[1] ?? 0);
      pss += Number(/^Pss:\s+(\d+)/m.exec(roll)?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return { rss, pss, procs: tree.length };
}

/** The pid listening on a unix socket (ss -xlp). */
function listenerPid(socket) {
  const out = execFileSync('ss', ['-xlpn'], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.includes(` ${socket} `));
  const m = line && /pid=(\d+)/.exec(line);
  if (!m) throw new Error(`no process listens on ${socket}`);
  return Number(m[1]);
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) if (argv[i].startsWith('--')) out[argv[i].slice(2)] = argv[++i];
  return out;
}
