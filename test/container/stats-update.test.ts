// docker stats and docker update against real cgroups: the counters come from the container's
// cgroup (memory, CPU, pids), one-shot and streaming; update changes the live cgroup's
// limits and the stored HostConfig, is kept for the next start of a stopped container, and a
// refused update changes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ok, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:test'));
  ok(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]), 'load');
});
after(async () => {
  await d.stop();
});

/** The directory of `controller` (v1) or the unified cgroup (v2) of a host PID. */
function cgroupDir(pid: number, controller: string): string {
  const lines = fs
    .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(':'));
  if (fs.existsSync('/sys/fs/cgroup/cgroup.controllers'))
    return path.join('/sys/fs/cgroup', lines.find((l) => l[1] === '')![2]!);
  return path.join('/sys/fs/cgroup', controller, lines.find((l) => l[1]!.split(',').includes(controller))![2]!);
}
const v2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
const pidOf = (name: string) => Number(ok(d.docker(['inspect', '-f', '{{.State.Pid}}', name]), 'inspect').trim());

test("stats: memory, CPU and pids from the container's cgroup, one sample or a stream", async () => {
  ok(
    d.docker([
      'run',
      '-d',
      '--name',
      'busy',
      'bb:test',
      'sh',
      '-c',
      'dd if=/dev/zero of=/tmp/f bs=1M count=16; while true; do :; done',
    ]),
    'run',
  );
  const res = await d.request('GET', '/v1.41/containers/busy/stats?stream=false');
  assert.equal(res.status, 200);
  const s = JSON.parse(res.body);
  assert.equal(s.name, '/busy');
  assert.ok(
    s.memory_stats.usage > 8 << 20,
    `memory usage counts the tmpfs-less page cache of 16 MiB written: ${s.memory_stats.usage}`,
  );
  assert.ok(s.memory_stats.limit > 0);
  assert.ok(s.pids_stats.current >= 1);
  assert.ok(
    s.cpu_stats.cpu_usage.total_usage > s.precpu_stats.cpu_usage.total_usage,
    'two cycles: CPU used between them',
  );
  assert.ok(s.cpu_stats.system_cpu_usage > s.precpu_stats.system_cpu_usage);
  assert.ok(s.cpu_stats.online_cpus >= 1);
  assert.notEqual(s.read, s.preread);
  assert.ok(
    s.networks?.eth0 && s.networks.eth0.rx_bytes >= 0 && s.networks.eth0.tx_packets >= 0,
    "counters of the container's own interface",
  );
  assert.equal(s.networks.lo, undefined);

  const oneShot = JSON.parse((await d.request('GET', '/v1.41/containers/busy/stats?stream=false&one-shot=true')).body);
  assert.equal(oneShot.precpu_stats.cpu_usage.total_usage, 0);

  // The CLI's table: a CPU % above zero for a busy loop, the memory and PIDs columns filled.
  const table = ok(
    d.docker(['stats', '--no-stream', '--format', '{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}', 'busy']),
    'stats',
  )
    .trim()
    .split('|');
  assert.ok(parseFloat(table[0]!) > 0, `CPU % ${table[0]}`);
  assert.match(table[1]!, /^[\d.]+[KMG]iB \/ [\d.]+[KMG]iB$/);
  assert.ok(Number(table[2]) >= 1);

  const lines = await new Promise<string[]>((resolve, reject) => {
    const got: string[] = [];
    const req = http.get({ socketPath: d.socket, path: '/v1.41/containers/busy/stats' }, (r) => {
      let buf = '';
      r.on('data', (c: Buffer) => {
        buf += c.toString();
        const parts = buf.split('\n');
        buf = parts.pop()!;
        got.push(...parts);
        if (got.length >= 2) {
          req.destroy();
          resolve(got);
        }
      });
    });
    req.on('error', (e) => (got.length >= 2 ? resolve(got) : reject(e)));
  });
  const [a, b] = lines.map((l) => JSON.parse(l));
  assert.equal(b.preread, a.read, 'each streamed sample carries the previous as pre*');
  ok(d.docker(['rm', '-f', 'busy']), 'rm');

  ok(d.docker(['create', '--name', 'idle', 'bb:test']), 'create');
  const stopped = JSON.parse((await d.request('GET', '/v1.41/containers/idle/stats?stream=false')).body);
  assert.deepEqual(stopped.memory_stats, {});
  ok(d.docker(['rm', 'idle']), 'rm');
});

test('update: live cgroup limits and HostConfig, kept for the next start; a refused update changes nothing', async () => {
  ok(d.docker(['run', '-d', '--name', 'upd', 'bb:test', 'sleep', '1000']), 'run');
  assert.equal(
    ok(
      d.docker([
        'update',
        '--memory',
        '64m',
        '--memory-swap',
        '128m',
        '--pids-limit',
        '50',
        '--cpu-shares',
        '512',
        '--restart',
        'on-failure:3',
        'upd',
      ]),
      'update',
    ),
    'upd\n',
  );
  const pid = pidOf('upd');
  if (v2) {
    assert.equal(fs.readFileSync(path.join(cgroupDir(pid, ''), 'memory.max'), 'utf8').trim(), String(64 << 20));
    assert.equal(fs.readFileSync(path.join(cgroupDir(pid, ''), 'pids.max'), 'utf8').trim(), '50');
  } else {
    assert.equal(
      fs.readFileSync(path.join(cgroupDir(pid, 'memory'), 'memory.limit_in_bytes'), 'utf8').trim(),
      String(64 << 20),
    );
    assert.equal(fs.readFileSync(path.join(cgroupDir(pid, 'pids'), 'pids.max'), 'utf8').trim(), '50');
    assert.equal(fs.readFileSync(path.join(cgroupDir(pid, 'cpu'), 'cpu.shares'), 'utf8').trim(), '512');
  }
  assert.equal(
    ok(
      d.docker([
        'inspect',
        '-f',
        '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.CpuShares}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}',
        'upd',
      ]),
      'inspect',
    ),
    `${64 << 20} 50 512 on-failure:3\n`,
  );
  const stats = JSON.parse((await d.request('GET', '/v1.41/containers/upd/stats?stream=false&one-shot=true')).body);
  assert.equal(stats.memory_stats.limit, 64 << 20, 'stats reports the new limit');
  assert.equal(stats.pids_stats.limit, 50);

  const bad = d.docker(['update', '--memory', '1m', 'upd']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /Minimum memory limit allowed is 6MB/);
  assert.equal(ok(d.docker(['inspect', '-f', '{{.HostConfig.Memory}}', 'upd']), 'inspect'), `${64 << 20}\n`);

  ok(d.docker(['stop', '-t', '0', 'upd']), 'stop');
  ok(d.docker(['update', '--pids-limit', '20', 'upd']), 'update stopped');
  ok(d.docker(['start', 'upd']), 'start');
  const pid2 = pidOf('upd');
  assert.equal(
    fs.readFileSync(path.join(cgroupDir(pid2, v2 ? '' : 'pids'), 'pids.max'), 'utf8').trim(),
    '20',
    'applied at the next start',
  );
  ok(d.docker(['rm', '-f', 'upd']), 'rm');
  const missing = d.docker(['update', '--memory', '64m', 'nosuch']);
  assert.match(missing.stderr, /No such container: nosuch/);
});
