// Containers under real runc through the docker CLI: run/logs/wait/rm, the writable layer's
// life (kept across stop/start, gone after rm), --read-only, tmpfs size limits, read-only
// binds, exec, --rm. After each case nothing is left mounted and runc knows no container.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ok, startDaemon, mountsUnder, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

let d: TestDaemon;
const IMG = 'bb:test';

function runcContainers(): string {
  const r = spawnSync('runc', ['--root', path.join(d.dir, 'exec', 'runc'), 'list', '-q'], { encoding: 'utf8' });
  return (r.stdout ?? '').trim();
}

/** Nothing of a container that is not running stays mounted or known to runc. */
function assertClean(): void {
  assert.deepEqual(mountsUnder(path.join(d.dataRoot, 'containers')), []);
  assert.equal(runcContainers(), '');
}

before(async () => {
  d = await startDaemon();
  const archive = path.join(d.dir, 'bb.tar');
  fs.writeFileSync(archive, await busyboxArchive(IMG));
  ok(d.docker(['load', '-i', archive]), 'load');
});

after(async () => {
  await d.stop();
});

test('run, logs with stdout and stderr apart, exit code, ps status, rm', () => {
  const r = d.docker(['run', '--name', 'one', IMG, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.equal(r.status, 3);
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
  const logs = d.docker(['logs', 'one']);
  assert.equal(logs.stdout, 'out\n');
  assert.equal(logs.stderr, 'err\n');
  assert.equal(
    ok(d.docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'one']), 'inspect').trim(),
    'exited 3',
  );
  assert.match(ok(d.docker(['ps', '-a', '--filter', 'name=one', '--format', '{{.Status}}']), 'ps'), /^Exited \(3\) /);
  assert.equal(ok(d.docker(['wait', 'one']), 'wait').trim(), '3');
  // The exit is answered before the rootfs is unmounted; rm waits for that teardown.
  ok(d.docker(['rm', 'one']), 'rm');
  assertClean();
  const gone = d.docker(['inspect', '--type', 'container', 'one']);
  assert.notEqual(gone.status, 0);
  assert.match(gone.stderr, /No such container: one/);
  assert.equal(
    fs.existsSync(path.join(d.dataRoot, 'containers')) ? fs.readdirSync(path.join(d.dataRoot, 'containers')).length : 0,
    0,
  );
});

test('the writable layer survives stop/start and restart, and goes with rm', () => {
  const id = ok(d.docker(['run', '-d', '--name', 'keep', IMG, 'sleep', '1000']), 'run -d').trim();
  ok(d.docker(['exec', 'keep', 'sh', '-c', 'echo notes > /notes.txt']), 'exec write');
  ok(d.docker(['stop', '-t', '1', 'keep']), 'stop');
  assertClean();
  const exec = d.docker(['exec', 'keep', 'true']);
  assert.match(exec.stderr, new RegExp(`Container ${id} is not running`));
  ok(d.docker(['start', 'keep']), 'start');
  assert.equal(ok(d.docker(['exec', 'keep', 'cat', '/notes.txt']), 'read back'), 'notes\n');
  ok(d.docker(['restart', '-t', '1', 'keep']), 'restart');
  assert.equal(ok(d.docker(['exec', 'keep', 'cat', '/notes.txt']), 'after restart'), 'notes\n');
  ok(d.docker(['rm', '-f', 'keep']), 'rm -f');
  assertClean();
  const fresh = d.docker(['run', '--rm', IMG, 'cat', '/notes.txt']);
  assert.equal(fresh.status, 1);
  assert.match(fresh.stderr, /No such file or directory/);
  assert.equal(ok(d.docker(['ps', '-aq']), 'ps -aq'), '', '--rm removed its container');
});

test('--read-only root, tmpfs with a size limit, read-only bind', () => {
  const host = path.join(d.dir, 'conf');
  fs.mkdirSync(host);
  fs.writeFileSync(path.join(host, 'app.conf'), 'v1\n');
  const r = d.docker([
    'run',
    '--rm',
    '--read-only',
    '--tmpfs',
    '/scratch:size=1m',
    '-v',
    `${host}:/conf:ro`,
    IMG,
    'sh',
    '-c',
    'cat /conf/app.conf; touch /x 2>&1; echo > /conf/app.conf 2>&1; df -k /scratch | tail -n 1; ' +
      'dd if=/dev/zero of=/scratch/big bs=1k count=2048 2>&1 | head -n 1; exit 0',
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^v1\n/);
  assert.match(r.stdout, /touch: \/x: Read-only file system/);
  assert.match(r.stdout, /Read-only file system/);
  assert.match(r.stdout, /tmpfs +1024 /);
  assert.match(r.stdout, /No space left on device/);
  assert.equal(fs.readFileSync(path.join(host, 'app.conf'), 'utf8'), 'v1\n');
  assertClean();
});

test("exec with -u, -w, -e and stdin; top lists the container's processes", () => {
  ok(d.docker(['run', '-d', '--name', 'ex', IMG, 'sleep', '1000']), 'run -d');
  const r = d.docker(
    ['exec', '-i', '-u', 'nobody', '-w', '/tmp', '-e', 'FOO=bar', 'ex', 'sh', '-c', 'id -u; pwd; echo $FOO; cat'],
    'piped\n',
  );
  assert.equal(r.stdout, '65534\n/tmp\nbar\npiped\n');
  const failed = d.docker(['exec', 'ex', 'nonexist']);
  assert.equal(failed.status, 126);
  assert.match(failed.stdout + failed.stderr, /executable file not found/);
  assert.match(ok(d.docker(['top', 'ex']), 'top'), /sleep 1000/);
  ok(d.docker(['rm', '-f', 'ex']), 'rm -f');
  assertClean();
});

test("name conflicts and the AutoRemove + restart policy error use Docker's words", () => {
  const id = ok(d.docker(['create', '--name', 'dup', IMG, 'true']), 'create').trim();
  const again = d.docker(['create', '--name', 'dup', IMG, 'true']);
  assert.equal(again.status, 1);
  assert.match(
    again.stderr,
    new RegExp(
      `Conflict. The container name "/dup" is already in use by container "${id}". You have to remove \\(or rename\\) that container to be able to reuse that name.`,
    ),
  );
  const res = d.request('POST', '/containers/create', {
    Image: IMG,
    HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } },
  });
  return res.then((r) => {
    assert.equal(r.status, 400);
    assert.match(r.body, /can't create 'AutoRemove' container with restart policy/);
    ok(d.docker(['rm', 'dup']), 'rm');
  });
});
