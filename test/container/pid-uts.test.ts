// --pid and --uts, each checked against dockerd 20.10 on the same busybox image: the host's PID
// and UTS namespaces, a container:<name> joiner in its donor's PID namespace, the daemon's
// answers (and the values it lets through), and HostConfig.PidMode / UTSMode as inspect shows them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:pid'));
  assert.equal(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]).status, 0);
});
after(async () => {
  await d?.stop();
});

const hostPid = fs.readlinkSync('/proc/self/ns/pid');
const hostUts = fs.readlinkSync('/proc/self/ns/uts');
const run = (args: string[], script: string) => d.docker(['run', '--rm', ...args, 'bb:pid', 'sh', '-c', script]);
const modes = (ref: string) =>
  d.docker(['inspect', '-f', '{{.HostConfig.PidMode}}|{{.HostConfig.UTSMode}}', ref]).stdout.trim();
const create = (body: Record<string, unknown>) =>
  d.request('POST', '/v1.41/containers/create', { Image: 'bb:pid', Cmd: ['true'], ...body });

test("--pid host sees the host's processes; --uts host shows the host's hostname", () => {
  // dockerd 20.10, --pid host: ps lists the host's PID 1 and kthreadd; the host's pid namespace.
  const look = `readlink /proc/self/ns/pid; test -d /proc/${process.pid} && echo sees-the-test || echo blind`;
  const pid = run(['--pid', 'host'], look);
  assert.equal(pid.status, 0, pid.stderr);
  assert.equal(pid.stdout, `${hostPid}\nsees-the-test\n`);
  const own = run([], look);
  assert.equal(own.status, 0, own.stderr);
  assert.notEqual(own.stdout.split('\n')[0], hostPid);
  assert.match(own.stdout, /\nblind\n$/);
  // dockerd 20.10, --uts host: `hostname` prints the host's; /etc/hostname still holds the short ID.
  const uts = run(['--uts', 'host'], 'hostname; readlink /proc/self/ns/uts; cat /etc/hostname');
  assert.equal(uts.status, 0, uts.stderr);
  const [name, ns, etcHostname] = uts.stdout.split('\n');
  assert.equal(name, os.hostname());
  assert.equal(ns, hostUts);
  assert.match(etcHostname!, /^[0-9a-f]{12}$/);
  const c = d.docker(['create', '--name', 'hostns', '--pid', 'host', '--uts', 'host', 'bb:pid', 'true']);
  assert.equal(c.status, 0, c.stderr);
  assert.equal(modes('hostns'), 'host|host');
  assert.equal(d.docker(['rm', 'hostns']).status, 0);
});

test("container:<name> joins the donor's PID namespace, stored by the donor's full ID", async () => {
  const created = d.docker(['run', '-d', '--name', 'piddonor', 'bb:pid', 'sleep', '1000']);
  assert.equal(created.status, 0, created.stderr);
  const id = created.stdout.trim();
  try {
    const donorNs = d.docker(['exec', 'piddonor', 'sh', '-c', 'readlink /proc/self/ns/pid']).stdout.trim();
    // dockerd 20.10: the joiner's ps shows the donor's `sleep 1000` as PID 1.
    const r = run(['--pid', 'container:piddonor'], 'readlink /proc/self/ns/pid; cat /proc/1/cmdline');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${donorNs}\nsleep\u00001000\u0000`);
    assert.notEqual(donorNs, hostPid);
    const c = d.docker(['create', '--name', 'pidjoiner', '--pid', 'container:piddonor', 'bb:pid', 'true']);
    assert.equal(c.status, 0, c.stderr);
    assert.equal(modes('pidjoiner'), `container:${id}|`);
    assert.equal(d.docker(['stop', '-t', '0', 'piddonor']).status, 0);
    // dockerd 20.10: 500 {"message":"container <id> is not running"}, left created with exit code 128.
    const st = await d.request('POST', '/v1.41/containers/pidjoiner/start');
    assert.equal(st.status, 500, st.body);
    assert.equal(JSON.parse(st.body).message, `container ${id} is not running`);
    assert.equal(
      d.docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'pidjoiner']).stdout.trim(),
      'created 128',
    );
  } finally {
    d.docker(['rm', '-f', 'pidjoiner', 'piddonor']);
  }
});

test("the daemon's answers: a hostname with --uts host, a missing donor, an empty one; other values pass", async () => {
  const before = d.docker(['ps', '-aq']).stdout;
  // dockerd 20.10: 400 {"message":"conflicting options: hostname and the UTS mode"}; nothing made.
  const conflict = await create({ Hostname: 'foo', HostConfig: { UTSMode: 'host' } });
  assert.equal(conflict.status, 400, conflict.body);
  assert.equal(JSON.parse(conflict.body).message, 'conflicting options: hostname and the UTS mode');
  // dockerd 20.10: 400 {"message":"No such container: nosuch"}.
  const missing = await create({ HostConfig: { PidMode: 'container:nosuch' } });
  assert.equal(missing.status, 400, missing.body);
  assert.equal(JSON.parse(missing.body).message, 'No such container: nosuch');
  assert.equal(d.docker(['ps', '-aq']).stdout, before);
  // dockerd 20.10 creates it (201) and refuses the start (500), leaving it created.
  const empty = await create({ HostConfig: { PidMode: 'container:' } });
  assert.equal(empty.status, 201, empty.body);
  const emptyId = JSON.parse(empty.body).Id as string;
  const st = await d.request('POST', `/v1.41/containers/${emptyId}/start`);
  assert.equal(st.status, 500, st.body);
  assert.equal(
    JSON.parse(st.body).message,
    'cannot join PID of a non running container: : invalid name or ID supplied: ""',
  );
  assert.equal(d.docker(['rm', emptyId]).status, 0);
  // Only the CLI refuses other values ("--pid: invalid PID mode"): dockerd 20.10 runs these in
  // namespaces of their own (the mode is matched case-sensitively) and shows them as given.
  for (const hc of [{ PidMode: 'bogus' }, { PidMode: 'Host' }, { UTSMode: 'bogus' }, { UTSMode: 'container:x' }]) {
    const c = await create({
      Cmd: ['sh', '-c', 'readlink /proc/self/ns/pid; readlink /proc/self/ns/uts'],
      HostConfig: hc,
    });
    assert.equal(c.status, 201, c.body);
    const cid = JSON.parse(c.body).Id as string;
    const started = d.docker(['start', '-a', cid]);
    assert.equal(started.status, 0, started.stderr);
    assert.deepEqual(
      started.stdout
        .trim()
        .split('\n')
        .map((l) => l === hostPid || l === hostUts),
      [false, false],
      JSON.stringify(hc),
    );
    assert.equal(modes(cid), `${hc.PidMode ?? ''}|${hc.UTSMode ?? ''}`);
    assert.equal(d.docker(['rm', cid]).status, 0);
  }
});
