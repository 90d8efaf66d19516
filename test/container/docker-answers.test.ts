// Requests dockerd refuses or answers in a particular shape, each checked against dockerd 20.10
// on the same image: bad env entries, --volumes-from a missing container, kill signals, wait's
// Error field and the full Config/HostConfig of a container created with a sparse body.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:answers'));
  assert.equal(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]).status, 0);
});
after(async () => {
  await d?.stop();
});

const containerCount = async () =>
  (JSON.parse((await d.request('GET', '/v1.41/containers/json?all=1')).body) as unknown[]).length;

test('env entries without a name and --volumes-from a missing container are 400s that create nothing', async () => {
  const before = await containerCount();
  // dockerd 20.10: 400 {"message":"invalid environment variable: =foo"} (and likewise for "=" and "=x=y").
  for (const entry of ['=foo', '=', '=x=y']) {
    const r = await d.request('POST', '/v1.41/containers/create', { Image: 'bb:answers', Env: ['A=1', entry] });
    assert.equal(r.status, 400, r.body);
    assert.equal(JSON.parse(r.body).message, `invalid environment variable: ${entry}`);
  }
  // dockerd 20.10: 400 (not 404) {"message":"No such container: nosuch"}.
  const vf = await d.request('POST', '/v1.41/containers/create', {
    Image: 'bb:answers',
    HostConfig: { VolumesFrom: ['nosuch'] },
  });
  assert.equal(vf.status, 400, vf.body);
  assert.equal(JSON.parse(vf.body).message, 'No such container: nosuch');
  assert.equal(await containerCount(), before);
  // A name-less value is still fine when the name is there.
  const okEnv = await d.request('POST', '/v1.41/containers/create?name=envok', {
    Image: 'bb:answers',
    Env: ['EMPTY=', 'A=b=c'],
  });
  assert.equal(okEnv.status, 201, okEnv.body);
  assert.equal((await d.request('DELETE', '/v1.41/containers/envok')).status, 204);
});

test("kill refuses signal 0 and unknown names (400) and numbers Linux lacks, in dockerd's words", async () => {
  assert.equal(
    d.docker([
      'run',
      '-d',
      '--name',
      'sig',
      'bb:answers',
      'sh',
      '-c',
      'trap "exit 7" USR1; while :; do sleep 0.1; done',
    ]).status,
    0,
  );
  // dockerd 20.10 answers, in order: 400 Invalid signal: 0 / FOO / SIGFOO; 500 for 999 and -1.
  const cases: [string, number, string][] = [
    ['0', 400, 'Invalid signal: 0'],
    ['FOO', 400, 'Invalid signal: FOO'],
    ['SIGFOO', 400, 'Invalid signal: SIGFOO'],
    ['999', 500, 'Cannot kill container: sig: The linux daemon does not support signal 999'],
    ['-1', 500, 'Cannot kill container: sig: The linux daemon does not support signal 18446744073709551615'],
  ];
  for (const [sig, status, message] of cases) {
    const r = await d.request('POST', `/v1.41/containers/sig/kill?signal=${sig}`);
    assert.equal(r.status, status, `${sig}: ${r.body}`);
    assert.equal(JSON.parse(r.body).message, message);
  }
  // Nothing was sent: the container still runs. A lower-case name without SIG reaches it.
  assert.equal(d.docker(['inspect', '-f', '{{.State.Running}}', 'sig']).stdout.trim(), 'true');
  assert.equal((await d.request('POST', '/v1.41/containers/sig/kill?signal=usr1')).status, 204);
  const waited = await d.request('POST', '/v1.41/containers/sig/wait');
  // dockerd 20.10: {"Error":null,"StatusCode":7}.
  assert.deepEqual(JSON.parse(waited.body), { Error: null, StatusCode: 7 });
  assert.equal(d.docker(['rm', '-f', 'sig']).status, 0);
});

test('inspect shows every Config and HostConfig field dockerd shows, in its order, for a sparse create', async () => {
  const created = await d.request('POST', '/v1.41/containers/create?name=sparse', { Image: 'bb:answers' });
  assert.equal(created.status, 201, created.body);
  const j = JSON.parse((await d.request('GET', '/v1.41/containers/sparse/json')).body) as {
    HostConfig: Record<string, unknown>;
    Config: Record<string, unknown>;
  };
  // The keys of dockerd 20.10's answer to the same request.
  const dockerHostConfig = [
    'Binds',
    'ContainerIDFile',
    'LogConfig',
    'NetworkMode',
    'PortBindings',
    'RestartPolicy',
    'AutoRemove',
    'VolumeDriver',
    'VolumesFrom',
    'CapAdd',
    'CapDrop',
    'CgroupnsMode',
    'Dns',
    'DnsOptions',
    'DnsSearch',
    'ExtraHosts',
    'GroupAdd',
    'IpcMode',
    'Cgroup',
    'Links',
    'OomScoreAdj',
    'PidMode',
    'Privileged',
    'PublishAllPorts',
    'ReadonlyRootfs',
    'SecurityOpt',
    'UTSMode',
    'UsernsMode',
    'ShmSize',
    'ConsoleSize',
    'Isolation',
    'CpuShares',
    'Memory',
    'NanoCpus',
    'CgroupParent',
    'BlkioWeight',
    'BlkioWeightDevice',
    'BlkioDeviceReadBps',
    'BlkioDeviceWriteBps',
    'BlkioDeviceReadIOps',
    'BlkioDeviceWriteIOps',
    'CpuPeriod',
    'CpuQuota',
    'CpuRealtimePeriod',
    'CpuRealtimeRuntime',
    'CpusetCpus',
    'CpusetMems',
    'Devices',
    'DeviceCgroupRules',
    'DeviceRequests',
    'KernelMemory',
    'KernelMemoryTCP',
    'MemoryReservation',
    'MemorySwap',
    'MemorySwappiness',
    'OomKillDisable',
    'PidsLimit',
    'Ulimits',
    'CpuCount',
    'CpuPercent',
    'IOMaximumIOps',
    'IOMaximumBandwidth',
    'MaskedPaths',
    'ReadonlyPaths',
  ];
  const dockerConfig = [
    'Hostname',
    'Domainname',
    'User',
    'AttachStdin',
    'AttachStdout',
    'AttachStderr',
    'Tty',
    'OpenStdin',
    'StdinOnce',
    'Env',
    'Cmd',
    'Image',
    'Volumes',
    'WorkingDir',
    'Entrypoint',
    'OnBuild',
    'Labels',
  ];
  assert.deepEqual(
    Object.keys(j.HostConfig).filter((k) => dockerHostConfig.includes(k)),
    dockerHostConfig,
  );
  assert.deepEqual(
    Object.keys(j.Config).filter((k) => dockerConfig.includes(k)),
    dockerConfig,
  );
  const h = j.HostConfig;
  assert.deepEqual(
    [
      h.CpuRealtimePeriod,
      h.CpuRealtimeRuntime,
      h.Binds,
      h.RestartPolicy,
      h.ConsoleSize,
      h.MemorySwappiness,
      h.PidsLimit,
    ],
    [0, 0, null, { Name: '', MaximumRetryCount: 0 }, [0, 0], null, null],
  );
  assert.deepEqual([j.Config.Volumes, j.Config.OnBuild, j.Config.Tty, j.Config.User], [null, null, false, '']);
  assert.equal((await d.request('DELETE', '/v1.41/containers/sparse')).status, 204);
});
