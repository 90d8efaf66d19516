// --ipc modes, each checked against dockerd 20.10 on the same busybox image: the IPC namespace a
// container gets, what it finds at /dev/shm, the shareable donor's tmpfs on the host and its
// joiners, the refusals in dockerd's words, and HostConfig.IpcMode as inspect reports it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startDaemon, mountsUnder, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:ipc'));
  assert.equal(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]).status, 0);
});
after(async () => {
  await d?.stop();
});

const hostIpc = fs.readlinkSync('/proc/self/ns/ipc');
const run = (args: string[], script: string) => d.docker(['run', '--rm', ...args, 'bb:ipc', 'sh', '-c', script]);
/** /dev/shm's line of the container's mountinfo (or nothing) and its IPC namespace. */
const SHOW = 'grep " /dev/shm " /proc/self/mountinfo; readlink /proc/self/ns/ipc';
const shmLine = (out: string) => out.split('\n').find((l) => l.includes(' /dev/shm ')) ?? '';
const nsOf = (out: string) => out.trim().split('\n').pop()!;
const ipcMode = (ref: string) => d.docker(['inspect', '-f', '{{.HostConfig.IpcMode}}', ref]).stdout.trim();

test('none has no /dev/shm, private its own tmpfs, both in a namespace of their own', () => {
  // dockerd 20.10, --ipc none: `ls: /dev/shm: No such file or directory`, a new namespace.
  const none = run(['--ipc', 'none'], `test -e /dev/shm && echo there || echo absent; ${SHOW}`);
  assert.equal(none.status, 0, none.stderr);
  assert.equal(shmLine(none.stdout), '');
  assert.match(none.stdout, /^absent\n/);
  assert.notEqual(nsOf(none.stdout), hostIpc);
  // dockerd 20.10, --ipc private: `/dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k`.
  const priv = run(['--ipc', 'private', '--shm-size', '8m'], SHOW);
  assert.equal(priv.status, 0, priv.stderr);
  assert.match(shmLine(priv.stdout), /\/dev\/shm rw,nosuid,nodev,noexec,relatime.* - tmpfs shm rw,size=8192k/);
  assert.notEqual(nsOf(priv.stdout), hostIpc);
});

test("host shares the host's namespace and /dev/shm", () => {
  const marker = `strata-ipc-test-${process.pid}`;
  fs.writeFileSync(`/dev/shm/${marker}`, 'from the host');
  try {
    const r = run(['--ipc', 'host'], `cat /dev/shm/${marker}; echo; ${SHOW}`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^from the host\n/);
    assert.equal(nsOf(r.stdout), hostIpc);
  } finally {
    fs.rmSync(`/dev/shm/${marker}`, { force: true });
  }
});

test("shareable mounts a tmpfs under the container's directory that a container:<name> joiner shares", async () => {
  const created = d.docker(['run', '-d', '--name', 'donor', '--ipc', 'shareable', 'bb:ipc', 'sleep', '1000']);
  assert.equal(created.status, 0, created.stderr);
  const id = created.stdout.trim();
  try {
    // dockerd 20.10: `<data-root>/containers/<id>/mounts/shm ... - tmpfs shm rw,size=65536k` on the host.
    const shmDir = path.join(d.dataRoot, 'containers', id, 'mounts', 'shm');
    const hostLine = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[4] === shmDir);
    assert.ok(hostLine, 'the shm tmpfs is mounted on the host');
    assert.match(hostLine, /nosuid,nodev,noexec.* - tmpfs shm rw,size=65536k/);
    assert.equal(fs.statSync(shmDir).mode & 0o7777, 0o1777);
    const donorNs = d.docker(['exec', 'donor', 'sh', '-c', 'echo shared > /dev/shm/x; readlink /proc/self/ns/ipc']);
    assert.equal(donorNs.status, 0, donorNs.stderr);
    const joiner = run(['--ipc', 'container:donor'], `cat /dev/shm/x; ${SHOW}`);
    assert.equal(joiner.status, 0, joiner.stderr);
    assert.match(joiner.stdout, /^shared\n/);
    assert.equal(nsOf(joiner.stdout), donorNs.stdout.trim());
    assert.notEqual(nsOf(joiner.stdout), hostIpc);
    // dockerd stores the donor's full ID, whatever name it was given by.
    const c = d.docker(['create', '--name', 'joiner', '--ipc', 'container:donor', 'bb:ipc', 'true']);
    assert.equal(c.status, 0, c.stderr);
    assert.equal(ipcMode('joiner'), `container:${id}`);
    // The tmpfs lives for one run of the donor.
    assert.equal(d.docker(['stop', '-t', '0', 'donor']).status, 0);
    assert.deepEqual(
      mountsUnder(d.dir).filter((m) => m === shmDir),
      [],
    );
    // dockerd 20.10: 500 can't join IPC of container <id>: container <id> is not running.
    const st = await d.request('POST', '/v1.41/containers/joiner/start');
    assert.equal(st.status, 500, st.body);
    assert.equal(JSON.parse(st.body).message, `can't join IPC of container ${id}: container ${id} is not running`);
    // dockerd 20.10 leaves it created, with the error and exit code 128.
    assert.equal(
      d.docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'joiner']).stdout.trim(),
      'created 128',
    );
  } finally {
    d.docker(['rm', '-f', 'joiner', 'donor']);
  }
});

test("refusals in dockerd's words: a private donor, no donor, an empty name, an unknown mode", async () => {
  assert.equal(d.docker(['run', '-d', '--name', 'private-donor', 'bb:ipc', 'sleep', '1000']).status, 0);
  try {
    const id = d.docker(['inspect', '-f', '{{.Id}}', 'private-donor']).stdout.trim();
    const create = (IpcMode: string) =>
      d.request('POST', '/v1.41/containers/create', { Image: 'bb:ipc', Cmd: ['true'], HostConfig: { IpcMode } });
    // dockerd 20.10: create 400 {"message":"No such container: nosuch"}; nothing is made.
    const before = d.docker(['ps', '-aq']).stdout;
    const missing = await create('container:nosuch');
    assert.equal(missing.status, 400, missing.body);
    assert.equal(JSON.parse(missing.body).message, 'No such container: nosuch');
    assert.equal(d.docker(['ps', '-aq']).stdout, before);
    // dockerd 20.10 creates these (201) and refuses them at start (500).
    const cases: [string, string][] = [
      [
        'container:private-donor',
        `can't join IPC of container ${id}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)`,
      ],
      ['container:', `can't join IPC of container : invalid name or ID supplied: ""`],
      ['bogus', 'Invalid IPC mode: bogus'],
    ];
    for (const [mode, message] of cases) {
      const c = await create(mode);
      assert.equal(c.status, 201, c.body);
      const cid = JSON.parse(c.body).Id as string;
      const st = await d.request('POST', `/v1.41/containers/${cid}/start`);
      assert.equal(st.status, 500, `${mode}: ${st.body}`);
      assert.equal(JSON.parse(st.body).message, message);
      assert.equal(d.docker(['inspect', '-f', '{{.State.Running}}', cid]).stdout.trim(), 'false');
      assert.equal(d.docker(['rm', cid]).status, 0);
    }
  } finally {
    d.docker(['rm', '-f', 'private-donor']);
  }
});

test('IpcMode in inspect: private by default (privileged too), shareable for API < 1.40 clients that send a HostConfig', async () => {
  const modeAt = async (version: string, body: Record<string, unknown>) => {
    const c = await d.request('POST', `/v${version}/containers/create`, { Image: 'bb:ipc', Cmd: ['true'], ...body });
    assert.equal(c.status, 201, c.body);
    const id = JSON.parse(c.body).Id as string;
    const mode = ipcMode(id);
    assert.equal(d.docker(['rm', id]).status, 0);
    return mode;
  };
  // dockerd 20.10 answers, in order: private, shareable, private, private, private, none.
  assert.equal(await modeAt('1.39', {}), 'private');
  assert.equal(await modeAt('1.39', { HostConfig: {} }), 'shareable');
  assert.equal(await modeAt('1.40', { HostConfig: {} }), 'private');
  assert.equal(await modeAt('1.41', { HostConfig: {} }), 'private');
  assert.equal(await modeAt('1.41', { HostConfig: { Privileged: true } }), 'private');
  assert.equal(await modeAt('1.39', { HostConfig: { IpcMode: 'none' } }), 'none');
});
