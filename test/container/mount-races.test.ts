// Symlink-exchange races against the mounts the daemon makes, driven through a real daemon
// with a real attacker: a container swapping a directory with a symlink to "/" in a loop
// (renameat2 RENAME_EXCHANGE, so the name always exists) while the daemon
//  - starts another container with a volume-subpath on that directory (the subpath must never
//    become the host's "/", which runc would otherwise bind read-write), and
//  - runs docker cp against the attacker, whose volume's mount point lies under the swapped
//    directory (the daemon must never make a directory on the host, nor leave a mount behind).
// No answer may be a 500; a detected race is a 4xx.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { startDaemon, mountsUnder, mountsUnderSettled, type TestDaemon } from '../helpers/daemon.js';
import { buildRenameExchange } from '../helpers/rename-exchange.js';
import { busyboxArchive } from './busybox-image.js';

const IMAGE = 'mountrace:latest';
let d: TestDaemon;
let swapper: string | undefined;

before(async () => {
  d = await startDaemon();
  const r = spawnSync('docker', ['load'], {
    input: await busyboxArchive(IMAGE),
    env: { ...process.env, DOCKER_HOST: d.host },
  });
  assert.equal(r.status, 0, String(r.stderr));
  swapper = buildRenameExchange(d.dir);
});
after(async () => {
  await d.stop();
});

const hostRoot = () => fs.readdirSync('/').sort();

async function api(method: string, url: string, body?: unknown) {
  const r = await d.request(method, `/v1.45${url}`, body);
  return { status: r.status, json: () => JSON.parse(r.body || 'null') as Record<string, unknown>, body: r.body };
}

function volumeData(name: string): string {
  return JSON.parse(d.docker(['volume', 'inspect', name]).stdout)[0].Mountpoint as string;
}

test('volume-subpath: a subpath swapped with a symlink to / never gives a container the host root', async (t) => {
  if (!swapper) return t.skip('no gcc with a static libc to build the swapper');
  const before = hostRoot();
  const sentinel = path.join(d.dir, 'host-sentinel');
  fs.writeFileSync(sentinel, 'host only\n');
  assert.equal(d.docker(['volume', 'create', 'racevol']).status, 0);
  const data = volumeData('racevol');
  fs.mkdirSync(path.join(data, 'sub'));
  fs.writeFileSync(path.join(data, 'sub', 'inside'), 'volume\n');
  fs.symlinkSync('/', path.join(data, 'link'));
  fs.copyFileSync(swapper, path.join(data, 'swap'));
  fs.chmodSync(path.join(data, 'swap'), 0o755);

  const run = d.docker(['run', '-d', '--name', 'swapper', '-v', 'racevol:/v', IMAGE, '/v/swap', '/v/sub', '/v/link']);
  assert.equal(run.status, 0, run.stderr);

  // The victim reports (exit 42) and writes (written) if its /m is the host's root.
  const probe = `${sentinel}`;
  const created = await api('POST', '/containers/create?name=victim', {
    Image: IMAGE,
    Cmd: ['sh', '-c', `if [ -e /m${probe} ]; then touch /m${d.dir}/written; exit 42; fi; [ -e /m/inside ]`],
    HostConfig: { Mounts: [{ Type: 'volume', Source: 'racevol', Target: '/m', VolumeOptions: { Subpath: 'sub' } }] },
  });
  assert.equal(created.status, 201, created.body);

  const ATTEMPTS = 200;
  const statuses = new Map<number, number>();
  const errors = new Set<string>();
  let escapes = 0;
  let ran = 0;
  for (let i = 0; i < ATTEMPTS; i++) {
    const start = await api('POST', '/containers/victim/start');
    statuses.set(start.status, (statuses.get(start.status) ?? 0) + 1);
    if (start.status >= 500) errors.add(start.body);
    if (start.status !== 204) continue;
    const waited = await api('POST', '/containers/victim/wait');
    const code = waited.json().StatusCode as number;
    ran++;
    if (code === 42) escapes++;
  }
  const swapping = d.docker(['inspect', '-f', '{{.State.Running}}', 'swapper']).stdout.trim();
  d.docker(['rm', '-f', 'swapper']);
  const summary = [...statuses].map(([s, n]) => `${s}: ${n}`).join(', ');
  t.diagnostic(`${ATTEMPTS} starts (${summary}); ${ran} ran, ${escapes} saw the host's root`);
  for (const e of errors) t.diagnostic(`500: ${e}`);

  assert.equal(escapes, 0, `the victim saw the host's / in ${escapes} of ${ran} runs`);
  assert.equal(fs.existsSync(path.join(d.dir, 'written')), false, 'the victim wrote to the host');
  assert.equal(statuses.get(500) ?? 0, 0, `a start answered 500 (${summary})`);
  for (const s of statuses.keys()) assert.ok(s === 204 || (s >= 400 && s < 500), `start answered ${s}`);
  assert.ok(ran > 0, 'no start succeeded: the race was never run');
  assert.equal(swapping, 'true', 'the swapper stopped exchanging');
  assert.deepEqual(hostRoot(), before, "entries of the host's / changed");
  assert.equal(fs.readFileSync(sentinel, 'utf8'), 'host only\n');
  // Every staging mount went with its run, and nothing is mounted in the victim's root.
  // The last run's teardown may still be under way after its exit was answered.
  assert.deepEqual(await mountsUnderSettled(path.join(d.dataRoot, 'tmp')), []);
  assert.deepEqual(await mountsUnderSettled(path.join(d.dataRoot, 'containers')), []);
  assert.equal(d.docker(['rm', '-f', 'victim']).status, 0);
  assert.equal(d.docker(['volume', 'rm', 'racevol']).status, 0);
});

test("volume-subpath: a symlink out of the volume is refused with Docker's words, and the failed start leaves no staging mount", async () => {
  assert.equal(d.docker(['volume', 'create', 'linkvol']).status, 0);
  const data = volumeData('linkvol');
  fs.symlinkSync('/', path.join(data, 'out'));
  fs.mkdirSync(path.join(data, 'real'));
  fs.symlinkSync('real', path.join(data, 'in'));
  fs.writeFileSync(path.join(data, 'real', 'f'), 'in the volume\n');
  const mk = async (name: string, sub: string) =>
    api('POST', `/containers/create?name=${name}`, {
      Image: IMAGE,
      Cmd: ['cat', '/m/f'],
      HostConfig: { Mounts: [{ Type: 'volume', Source: 'linkvol', Target: '/m', VolumeOptions: { Subpath: sub } }] },
    });
  assert.equal((await mk('sp-out', 'out')).status, 201);
  assert.equal((await mk('sp-missing', 'nope')).status, 201);
  assert.equal((await mk('sp-in', 'in')).status, 201);
  const out = await api('POST', '/containers/sp-out/start');
  assert.equal(out.status, 400, out.body);
  assert.match(out.json().message as string, /path concatenation escapes the base directory/);
  const missing = await api('POST', '/containers/sp-missing/start');
  assert.equal(missing.status, 404, missing.body);
  assert.match(missing.json().message as string, /cannot access path .*nope: no such file or directory/);
  assert.deepEqual(mountsUnder(path.join(d.dataRoot, 'tmp')), []);
  // A link that stays inside the volume is followed, as Docker does.
  const logs = d.docker(['start', '-a', 'sp-in']);
  assert.equal(logs.status, 0, logs.stderr);
  assert.equal(logs.stdout, 'in the volume\n');
  assert.deepEqual(await mountsUnderSettled(path.join(d.dataRoot, 'tmp')), []);
  d.docker(['rm', '-f', 'sp-out', 'sp-missing', 'sp-in']);
  assert.equal(d.docker(['volume', 'rm', 'linkvol']).status, 0);
});

test("docker cp: a mount point's parent swapped with a symlink to / makes nothing on the host and leaves no mount", async (t) => {
  if (!swapper) return t.skip('no gcc with a static libc to build the swapper');
  const before = hostRoot();
  const unique = `strata-cp-race-${randomBytes(4).toString('hex')}`;
  // Whatever a broken daemon made on the host goes again, whatever the assertions say.
  t.after(() => {
    for (const e of fs.readdirSync('/'))
      if (e.startsWith('strata-cp-race-')) fs.rmSync(path.join('/', e), { recursive: true, force: true });
  });
  assert.equal(d.docker(['volume', 'create', 'cpvol']).status, 0);
  const data = volumeData('cpvol');
  fs.copyFileSync(swapper, path.join(data, 'swap'));
  fs.chmodSync(path.join(data, 'swap'), 0o755);
  fs.writeFileSync(path.join(data, 'payload'), 'volume file\n');
  // /a holds the volume's mount point; /alink -> / trades places with /a forever.
  const run = d.docker([
    'run',
    '-d',
    '--name',
    'cpswap',
    '-v',
    `cpvol:/a/${unique}/vol`,
    IMAGE,
    'sh',
    '-c',
    `mkdir -p /x && busybox cp /a/${unique}/vol/swap /x/swap && busybox ln -s / /alink && exec /x/swap /a /alink`,
  ]);
  assert.equal(run.status, 0, run.stderr);
  const baseline = mountsUnder(d.dataRoot);

  const ATTEMPTS = 300;
  const statuses = new Map<number, number>();
  const errors = new Set<string>();
  for (let i = 0; i < ATTEMPTS; i++) {
    // The last path crosses the swapped directory: found or not, never a 500 nor a tar cut off
    // after its 200 (a reset connection, counted as status 0).
    const url =
      i % 3 === 0
        ? '/containers/cpswap/archive?path=/etc/passwd'
        : i % 3 === 1
          ? '/containers/cpswap/archive?path=/x/swap'
          : `/containers/cpswap/archive?path=/a/${unique}/vol/payload`;
    const r = await api(i % 3 === 1 ? 'HEAD' : 'GET', url).catch((e: unknown) => ({ status: 0, body: String(e) }));
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    if (r.status >= 500 || r.status === 0) errors.add(r.body || String(r.status));
  }
  if (errors.size > 0)
    t.diagnostic(
      d
        .log()
        .split('\n')
        .filter((l) => / WARN /.test(l))
        .slice(-5)
        .join('\n'),
    );
  const summary = [...statuses].map(([s, n]) => `${s}: ${n}`).join(', ');
  t.diagnostic(`${ATTEMPTS} copies (${summary})`);
  for (const e of errors) t.diagnostic(`500: ${e}`);
  // A GET's response ends before the daemon's clean-up after it has run: settle first.
  let left = mountsUnder(d.dataRoot);
  for (let i = 0; i < 100 && left.length !== baseline.length; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = mountsUnder(d.dataRoot);
  }
  const swapping = d.docker(['inspect', '-f', '{{.State.Running}}', 'cpswap']).stdout.trim();
  d.docker(['rm', '-f', 'cpswap']);

  assert.deepEqual(hostRoot(), before, "entries of the host's / changed");
  assert.equal(statuses.get(500) ?? 0, 0, `a copy answered 500 (${summary})`);
  assert.ok((statuses.get(200) ?? 0) > 0, 'no copy succeeded');
  for (const s of statuses.keys()) assert.ok(s === 200 || (s >= 400 && s < 500), `a copy answered ${s}`);
  assert.equal(swapping, 'true', 'the swapper stopped exchanging');
  assert.deepEqual(left, baseline, 'a mount made for a copy is still there');
  assert.doesNotMatch(d.log(), /unmount after copy/);
  assert.deepEqual(mountsUnder(path.join(d.dataRoot, 'containers')), []);
  assert.equal(d.docker(['volume', 'rm', 'cpvol']).status, 0);
});
