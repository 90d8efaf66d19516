#!/usr/bin/env node
// Crash loop: runs a mixed storage workload against a daemon (image loads and tags, creates,
// runs that write into volumes, --rm runs, commits, builds, removals), SIGKILLs the daemon at
// a random moment, starts it again and checks what the restart left:
//   - failed restarts: the daemon did not answer within 60 s;
//   - lost objects: something a command acknowledged (exit 0 before the kill) is gone or
//     changed (an image not inspectable, a volume file with other content, a container not
//     listed), or something acknowledged as removed is back;
//   - half-made: a listed container that cannot be inspected, is dead/removing, or is an
//     AutoRemove container that outlived the restart; a listed image that cannot be inspected;
//   - leaked mounts: anything mounted under the data-root or exec-root after the restart
//     (no container runs across a kill);
//   - orphans: Strata: faults `strata system check` finds (full mode); Docker: container
//     directories without a container, and overlay2 directories no layer or container names.
// Deterministic choices from --seed (printed); timing is the machine's.
//
//   node scripts/crash-loop.mjs --kills 100 [--seed N] [--daemon strata|docker] [--keep]
// Needs root, a built tree (dist/), the docker CLI, runc (and dockerd for --daemon docker).
// Prints one JSON summary line last; exit status 1 when any count is not 0.
import { spawn, spawnSync, execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const KILLS = Number(opt('kills', '100'));
const SEED = Number(opt('seed', String(Math.floor(Math.random() * 2 ** 31))));
const DAEMON = opt('daemon', 'strata');
const KEEP = args.includes('--keep');
const MAX_KILL_MS = Number(opt('max-kill-ms', '2500'));
const log = (...m) => process.stderr.write(m.join(' ') + '\n');

// mulberry32: small, deterministic, good enough to pick operations and kill moments.
let state = SEED >>> 0;
const rand = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (xs) => xs[Math.floor(rand() * xs.length)];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), `crash-loop-${DAEMON}-`));
const dataRoot = path.join(dir, 'root');
const execRoot = path.join(dir, 'exec');
const socket = path.join(dir, 'daemon.sock');
const host = `unix://${socket}`;
const env = { ...process.env, DOCKER_HOST: host, DOCKER_BUILDKIT: '0' };
let daemon;

// Docker runs on a containerd of its own that the loop never kills (as containerd.service and
// docker.service are separate units): the kills are dockerd's, as they are Strata's.
let containerd;
const containerdSock = path.join(dir, 'containerd', 'containerd.sock');
function startContainerd() {
  const cdir = path.join(dir, 'containerd');
  fs.mkdirSync(cdir, { recursive: true });
  fs.writeFileSync(path.join(cdir, 'config.toml'), 'version = 2\n');
  const out = fs.openSync(path.join(dir, 'containerd.log'), 'a');
  containerd = spawn('containerd', ['--config', path.join(cdir, 'config.toml'), '--root', path.join(cdir, 'root'),
    '--state', path.join(cdir, 'state'), '--address', containerdSock], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
}

function startDaemonProc(round) {
  const out = fs.openSync(path.join(dir, `daemon-${round}.log`), 'a');
  const argv = DAEMON === 'docker'
    ? ['dockerd', ['--data-root', dataRoot, '--exec-root', execRoot, '--host', host, '--pidfile', path.join(dir, 'docker.pid'),
        '--containerd', containerdSock, '--iptables=false', '--ip6tables=false', '--bridge=none', '--storage-driver', 'overlay2']]
    : [path.join(repo, 'bin/strata'), ['daemon', '--data-root', dataRoot, '--exec-root', execRoot, '--host', host]];
  daemon = spawn(argv[0], argv[1], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  return daemon;
}

const ping = () => new Promise((resolve) => {
  const req = http.request({ socketPath: socket, path: '/_ping', timeout: 2000 }, (res) => { res.resume(); resolve(res.statusCode === 200); });
  req.on('error', () => resolve(false));
  req.on('timeout', () => { req.destroy(); resolve(false); });
  req.end();
});

async function waitReady(p) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (p.exitCode !== null) return false;
    if (await ping()) return true;
    await sleep(100);
  }
  return false;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const docker = (argv, timeout = 120_000) => new Promise((resolve) => {
  execFile('docker', argv, { env, timeout, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
    resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
});
const dockerSync = (argv) => spawnSync('docker', argv, { env, encoding: 'utf8', maxBuffer: 64 << 20 });

// What commands acknowledged.
const acked = { images: new Set(), containers: new Set(), volumes: new Map(), removedContainers: new Set(), removedImages: new Set() };
let counter = 0;

async function op(archive, buildCtx) {
  const n = ++counter;
  const kind = pick(['load', 'load', 'create', 'run', 'run', 'runrm', 'commit', 'build', 'rm', 'rmi']);
  switch (kind) {
    case 'load': {
      const r = await docker(['load', '-i', archive]);
      if (r.status !== 0) return;
      if ((await docker(['tag', 'bb:1', `bb:t${n}`])).status === 0) acked.images.add(`bb:t${n}`);
      return;
    }
    case 'create':
      if ((await docker(['create', '--name', `c${n}`, 'bb:1', 'true'])).status === 0) acked.containers.add(`c${n}`);
      return;
    case 'run':
      if ((await docker(['run', '--name', `r${n}`, '-v', `vol${n}:/data`, 'bb:1', 'sh', '-c', `echo ${n} > /data/f; echo ${n} > /layer`])).status === 0) {
        acked.containers.add(`r${n}`);
        acked.volumes.set(`vol${n}`, `${n}\n`);
      }
      return;
    case 'runrm':
      if ((await docker(['run', '--rm', '--name', `x${n}`, '-v', `vol${n}:/data`, 'bb:1', 'sh', '-c', `echo ${n} > /data/f`])).status === 0) {
        acked.removedContainers.add(`x${n}`);
        acked.volumes.set(`vol${n}`, `${n}\n`);
      }
      return;
    case 'commit': {
      const from = [...acked.containers].filter((c) => c.startsWith('r'));
      if (from.length === 0) return;
      if ((await docker(['commit', pick(from), `img:${n}`])).status === 0) acked.images.add(`img:${n}`);
      return;
    }
    case 'build': {
      fs.writeFileSync(path.join(buildCtx, 'Dockerfile'), `FROM bb:1\nRUN echo ${n} > /built\n`);
      if ((await docker(['build', '-q', '-t', `bld:${n}`, buildCtx])).status === 0) acked.images.add(`bld:${n}`);
      return;
    }
    case 'rm': {
      const victims = [...acked.containers].filter((c) => c.startsWith('c'));
      if (victims.length === 0) return;
      const v = pick(victims);
      // Until the command answers, either outcome is right: a kill may come in between.
      acked.containers.delete(v);
      if ((await docker(['rm', v])).status === 0) acked.removedContainers.add(v);
      return;
    }
    case 'rmi': {
      const tags = [...acked.images].filter((t) => t.startsWith('bb:t'));
      if (tags.length === 0) return;
      const t = pick(tags);
      acked.images.delete(t);
      if ((await docker(['rmi', t])).status === 0) acked.removedImages.add(t);
      return;
    }
  }
}

function mountsUnder(...roots) {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => (l.split(' ')[4] ?? '').replace(/\\040/g, ' '))
    .filter((m) => roots.some((r) => m.startsWith(r + '/')));
}

function dockerOrphans() {
  let n = 0;
  const listed = new Set(dockerSync(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean));
  const cdir = path.join(dataRoot, 'containers');
  for (const name of fs.existsSync(cdir) ? fs.readdirSync(cdir) : []) if (!listed.has(name)) n++;
  const ov = path.join(dataRoot, 'overlay2');
  const named = new Set();
  const layerdb = path.join(dataRoot, 'image', 'overlay2', 'layerdb');
  for (const sub of ['sha256', 'mounts']) {
    const base = path.join(layerdb, sub);
    for (const e of fs.existsSync(base) ? fs.readdirSync(base) : []) {
      for (const f of ['cache-id', 'mount-id', 'init-id']) {
        const p = path.join(base, e, f);
        if (fs.existsSync(p)) named.add(fs.readFileSync(p, 'utf8').trim());
      }
    }
  }
  for (const name of fs.existsSync(ov) ? fs.readdirSync(ov) : []) if (name !== 'l' && !named.has(name)) n++;
  return n;
}

// Half-made objects, leaked mounts and orphans count once each, however many rounds they stay.
const reported = new Set();
const once = (what) => (reported.has(what) ? 0 : (reported.add(what), 1));

function verify(round, counts) {
  const problems = [];
  // Containers: every acknowledged one listed, no removed one back, nothing half-made listed.
  const ps = dockerSync(['ps', '-a', '--no-trunc', '--format', '{{.Names}}']);
  const listed = new Set(ps.stdout.split('\n').filter(Boolean));
  // Each lost object counts once: it is forgotten once reported.
  for (const c of acked.containers) if (!listed.has(c)) { counts.lostObjects++; acked.containers.delete(c); problems.push(`container ${c} lost`); }
  for (const c of acked.removedContainers) if (listed.has(c)) { counts.lostObjects++; acked.removedContainers.delete(c); problems.push(`container ${c} removed but listed`); }
  if (listed.size > 0) {
    const ins = dockerSync(['inspect', '--format', '{{.Name}} {{.State.Status}} {{.HostConfig.AutoRemove}}', ...listed]);
    const seen = new Set();
    for (const line of ins.stdout.split('\n').filter(Boolean)) {
      const [name, status, autoRemove] = line.split(' ');
      seen.add(name.replace(/^\//, ''));
      if (status === 'dead' || status === 'removing' || autoRemove === 'true') { counts.halfMade += once(`c ${name}`); problems.push(`container ${name} listed as ${status} (AutoRemove ${autoRemove})`); }
    }
    for (const c of listed) if (!seen.has(c)) { counts.halfMade += once(`c ${c}`); problems.push(`container ${c} listed but not inspectable`); }
  }
  // Images: acknowledged ones inspectable, removed tags gone, every listed image inspectable.
  const want = [...acked.images];
  if (want.length > 0) {
    const ins = dockerSync(['image', 'inspect', '--format', '{{.Id}}', ...want]);
    const ok = ins.stdout.split('\n').filter(Boolean).length;
    if (ok !== want.length) {
      for (const t of want) if (dockerSync(['image', 'inspect', t]).status !== 0) { counts.lostObjects++; acked.images.delete(t); problems.push(`image ${t} lost`); }
    }
  }
  const tags = new Set(dockerSync(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']).stdout.split('\n').filter(Boolean));
  for (const t of acked.removedImages) if (tags.has(t) && !acked.images.has(t)) { counts.lostObjects++; acked.removedImages.delete(t); problems.push(`image ${t} removed but listed`); }
  const ids = dockerSync(['image', 'ls', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (ids.length > 0 && dockerSync(['image', 'inspect', ...ids]).status !== 0) { counts.halfMade += once(`i ${round}`); problems.push('a listed image cannot be inspected'); }
  // Volumes: acknowledged content.
  for (const [v, content] of acked.volumes) {
    let got;
    try { got = fs.readFileSync(path.join(dataRoot, 'volumes', v, '_data', 'f'), 'utf8'); } catch { got = undefined; }
    if (got !== content) { counts.lostObjects++; acked.volumes.delete(v); problems.push(`volume ${v}: ${JSON.stringify(got)}, not ${JSON.stringify(content)}`); }
  }
  // Mounts.
  // A container still running needs its mounts (Docker's containers can outlive dockerd while containerd runs).
  const runningMounts = dockerSync(['ps', '-q', '--no-trunc']).stdout.split('\n').filter(Boolean).flatMap((id) => {
    try {
      return [fs.readFileSync(path.join(dataRoot, 'image', 'overlay2', 'layerdb', 'mounts', id, 'mount-id'), 'utf8').trim(), id];
    } catch { return [id]; }
  });
  const mounts = mountsUnder(dataRoot, execRoot).filter((m) => !runningMounts.some((r) => m.includes(r)));
  if (mounts.length > 0) { for (const m of mounts) counts.leakedMounts += once(`m ${m}`); problems.push(`mounts left: ${mounts.join(', ')}`); }
  // Orphans.
  if (DAEMON === 'docker') {
    const n = dockerOrphans();
    counts.orphans = n; // a standing figure, not a sum
    if (n > 0) problems.push(`${n} orphan directories`);
  } else {
    const r = spawnSync(path.join(repo, 'bin/strata'), ['-H', host, 'system', 'check', '--format', 'json'], { encoding: 'utf8' });
    let report;
    try { report = JSON.parse(r.stdout); } catch { report = undefined; }
    if (!report) { counts.orphans += once(`check ${round}`); problems.push(`system check failed: ${r.stderr}`); }
    else if (report.Faults.length > 0) {
      for (const f of report.Faults) counts.orphans += once(`f ${f.Kind} ${f.Path}`);
      problems.push(`system check: ${report.Faults.map((f) => `${f.Kind} ${f.Path}`).join('; ')}`);
    }
  }
  if (problems.length > 0) log(`round ${round}: ${problems.join(' | ')}`);
}

async function main() {
  log(`crash loop: ${KILLS} kills of ${DAEMON}, seed ${SEED}, in ${dir}`);
  const { busyboxArchive } = await import(path.join(repo, 'dist/test/container/busybox-image.js'));
  const archive = path.join(dir, 'bb.tar');
  fs.writeFileSync(archive, await busyboxArchive('bb:1'));
  const buildCtx = path.join(dir, 'ctx');
  fs.mkdirSync(buildCtx);
  const counts = { kills: 0, failedRestarts: 0, lostObjects: 0, halfMade: 0, leakedMounts: 0, orphans: 0 };
  if (DAEMON === 'docker') {
    startContainerd();
    for (let i = 0; i < 100 && !fs.existsSync(containerdSock); i++) await sleep(100);
  }
  let p = startDaemonProc(0);
  if (!(await waitReady(p))) throw new Error(`the daemon did not start: see ${dir}/daemon-0.log`);
  if ((await docker(['load', '-i', archive])).status !== 0) throw new Error('the first load failed');
  const started = Date.now();
  for (let round = 1; round <= KILLS; round++) {
    const killAt = 100 + Math.floor(rand() * MAX_KILL_MS);
    let running = true;
    // Two workers: one always busy with a command when the kill comes.
    const workers = [0, 1].map(async (w) => {
      fs.mkdirSync(buildCtx + w, { recursive: true });
      while (running) await op(archive, buildCtx + w);
    });
    await sleep(killAt);
    running = false;
    p.kill('SIGKILL');
    await new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', r)));
    counts.kills++;
    await Promise.all(workers);
    p = startDaemonProc(round);
    if (!(await waitReady(p))) {
      counts.failedRestarts++;
      log(`round ${round}: the daemon did not restart: ${fs.readFileSync(path.join(dir, `daemon-${round}.log`), 'utf8').split('\n').slice(-5).join(' / ')}`);
      break;
    }
    verify(round, counts);
    if (round % 10 === 0 || round === KILLS) log(`after ${round} kills: ${JSON.stringify(counts)} (${Math.round((Date.now() - started) / 1000)} s)`);
  }
  const summary = {
    daemon: DAEMON, seed: SEED, ...counts,
    acknowledged: { images: acked.images.size, containers: acked.containers.size, volumes: acked.volumes.size, removedContainers: acked.removedContainers.size, removedImages: acked.removedImages.size },
  };
  p.kill('SIGTERM');
  await Promise.race([new Promise((r) => p.once('exit', r)), sleep(20_000)]);
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  return summary;
}

let summary;
try {
  summary = await main();
} catch (err) {
  summary = { daemon: DAEMON, seed: SEED, error: String(err) };
} finally {
  if (daemon && daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
  // What the data-root's networks left (a daemon killed with containers running), printed.
  if (DAEMON === 'strata') {
    const left = spawnSync(process.execPath, [path.join(repo, 'scripts/network-leftovers.mjs'), dataRoot, execRoot], { encoding: 'utf8' });
    if (left.stdout) process.stderr.write(left.stdout);
  }
  for (const m of mountsUnder(dir).sort().reverse()) spawnSync('umount', ['-l', m]);
  if (containerd && containerd.exitCode === null) {
    containerd.kill('SIGTERM');
    await Promise.race([new Promise((r) => containerd.once('exit', r)), sleep(10_000)]);
  }
  if (containerd) {
    // Shims of containers that dockerd created and never started outlive containerd: end each
    // one that names this loop's containerd socket, and the `runc init` under it, by pid.
    for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
      let cmd = '';
      try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
      if (!cmd.includes(containerdSock)) continue;
      for (const child of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
        try {
          if (fs.readFileSync(`/proc/${child}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === pid) process.kill(Number(child), 'SIGKILL');
        } catch { /* gone */ }
      }
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
    }
  }
  if (!KEEP) fs.rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(summary) + '\n');
const bad = summary.error || summary.failedRestarts || summary.lostObjects || summary.halfMade || summary.leakedMounts || summary.orphans;
process.exit(bad ? 1 : 0);
