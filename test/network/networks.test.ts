// Networks for real on netavark and aardvark-dns: every network verb through the docker CLI,
// DNS by container name, network alias and connect --alias, published ports on the loopback
// (-p, -P, docker port, ps), a taken port refused at start, Docker's refusals, and nothing
// left behind (bridges, veths, namespaces, firewall rules, DNS server), including after the
// daemon is killed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { createHash } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ok, spawnDaemonIn, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from '../container/busybox-image.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:test', { ExposedPorts: { '80/tcp': {} } }));
  ok(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]), 'load');
});
after(async () => {
  await d.stop();
});

const links = () =>
  spawnSync('ip', ['-br', 'link'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(/\s+/)[0]!.split('@')[0]!)
    .filter(Boolean);
const rules = () => spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout;
const inspect = (fmt: string, ...refs: string[]) => ok(d.docker(['inspect', '-f', fmt, ...refs]), 'inspect').trim();
const httpd = (port = 80) => [
  'sh',
  '-c',
  `echo hello-from-$(hostname) > /tmp/index.html; exec httpd -f -p ${port} -h /tmp`,
];

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let b = '';
        res.on('data', (c) => {
          b += c;
        });
        res.on('end', () => resolve(b));
      })
      .on('error', reject);
  });
}
async function eventually<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i > 100) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

test("network verbs: create with subnet/gateway/labels, ls filters, inspect, rm in use, prune, events, and Docker's refusals", async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const id = ok(
    d.docker([
      'network',
      'create',
      '--subnet',
      '10.231.7.0/24',
      '--gateway',
      '10.231.7.254',
      '--label',
      'team=a',
      'tnet',
    ]),
    'create',
  ).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  ok(d.docker(['network', 'create', '--internal', 'inet']), 'create internal');
  assert.equal(
    inspect('{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Labels.team}} {{.Driver}} {{.Internal}}', 'tnet'),
    '10.231.7.0/24 10.231.7.254 a bridge false',
  );
  assert.equal(inspect('{{.Internal}}', 'inet'), 'true');
  assert.equal(ok(d.docker(['network', 'ls', '--filter', 'label=team=a', '--format', '{{.Name}}']), 'ls'), 'tnet\n');
  assert.deepEqual(
    ok(d.docker(['network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}}']), 'ls')
      .trim()
      .split('\n')
      .sort(),
    ['inet', 'tnet'],
  );
  assert.deepEqual(
    ok(d.docker(['network', 'ls', '--filter', 'type=builtin', '--format', '{{.Name}}']), 'ls')
      .trim()
      .split('\n')
      .sort(),
    ['bridge', 'host', 'none'],
  );
  assert.match(d.docker(['network', 'ls', '--filter', 'bogus=1']).stderr, /Invalid filter 'bogus'/);

  ok(d.docker(['run', '-d', '--name', 'member', '--network', 'tnet', 'bb:test', 'sleep', '1000']), 'run');
  assert.equal(
    inspect(
      '{{.NetworkSettings.Networks.tnet.IPAddress}} {{.NetworkSettings.Networks.tnet.Gateway}} {{.NetworkSettings.Networks.tnet.MacAddress}}',
      'member',
    ),
    '10.231.7.1 10.231.7.254 02:42:0a:e7:07:01',
  );
  assert.equal(
    inspect('{{range $id, $c := .Containers}}{{$c.Name}} {{$c.IPv4Address}}{{end}}', 'tnet'),
    'member 10.231.7.1/24',
  );
  ok(d.docker(['run', '-d', '--name', 'fixed', 'bb:test', 'sleep', '1000']), 'run');
  ok(d.docker(['network', 'connect', '--ip', '10.231.7.50', 'tnet', 'fixed']), 'connect --ip');
  assert.equal(inspect('{{.NetworkSettings.Networks.tnet.IPAddress}}', 'fixed'), '10.231.7.50');
  assert.match(
    d.docker(['network', 'connect', '--ip', '10.231.7.50', 'tnet', 'member']).stderr,
    /already exists in network tnet|Address already in use/,
  );
  assert.match(
    d.docker(['network', 'connect', '--ip', '172.30.0.9', 'inet', 'fixed']).stderr,
    /user specified IP address is supported only when connecting to networks with user configured subnets/,
  );
  ok(d.docker(['rm', '-f', 'fixed']), 'rm');
  const inUse = d.docker(['network', 'rm', 'tnet']);
  assert.match(inUse.stderr, /error while removing network: network tnet id [0-9a-f]{64} has active endpoints/);
  const reply = ok(d.docker(['network', 'prune', '-f']), 'prune');
  assert.match(reply, /inet/);
  assert.doesNotMatch(reply, /tnet/, 'a network in use is not pruned');
  ok(d.docker(['rm', '-f', 'member']), 'rm');
  assert.equal(inspect('{{len .Containers}}', 'tnet'), '0');
  ok(d.docker(['network', 'rm', 'tnet']), 'network rm');

  assert.match(d.docker(['network', 'inspect', 'tnet']).stderr, /network tnet not found/);
  assert.match(d.docker(['run', '--rm', '--network', 'nosuch', 'bb:test', 'true']).stderr, /network nosuch not found/);
  assert.match(d.docker(['network', 'rm', 'bridge']).stderr, /bridge is a pre-defined network and cannot be removed/);
  assert.match(d.docker(['network', 'create', '--ipv6', 'v6']).stderr, /IPv6 networks are not supported/);
  assert.match(
    d.docker(['network', 'create', '-d', 'macvlan', 'mv']).stderr,
    /network driver "macvlan" is not supported/,
  );
  assert.match(
    d.docker(['network', 'create', '-o', 'com.docker.network.bridge.enable_icc=false', 'icc']).stderr,
    /not supported/,
  );
  assert.match(d.docker(['network', 'create', '-o', 'x=y', 'xy']).stderr, /network option "x" is not supported/);
  ok(d.docker(['network', 'create', 'dup']), 'create');
  assert.match(d.docker(['network', 'create', 'dup']).stderr, /network with name dup already exists/);
  ok(d.docker(['network', 'rm', 'dup']), 'rm');
  assert.deepEqual(
    ok(d.docker(['network', 'ls', '--format', '{{.Name}}']), 'ls')
      .trim()
      .split('\n')
      .sort(),
    ['bridge', 'host', 'none'],
  );

  const events = ok(
    d.docker([
      'events',
      '--since',
      String(since),
      '--until',
      String(Math.floor(Date.now() / 1000) + 1),
      '--filter',
      'type=network',
      '--format',
      '{{.Action}} {{.Actor.Attributes.name}}',
    ]),
    'events',
  )
    .trim()
    .split('\n');
  for (const e of ['create tnet', 'connect tnet', 'disconnect tnet', 'destroy tnet', 'destroy inet'])
    assert.ok(events.includes(e), `${e} in ${events}`);
});

test('DNS on a user-defined network: by container name, --network-alias and connect --alias; none on the default bridge', async () => {
  ok(d.docker(['network', 'create', 'dnsnet']), 'create');
  ok(
    d.docker(['run', '-d', '--name', 'srv', '--network', 'dnsnet', '--network-alias', 'db', 'bb:test', ...httpd()]),
    'run srv',
  );
  const ip = inspect('{{.NetworkSettings.Networks.dnsnet.IPAddress}}', 'srv');
  const client = (cmd: string) => d.docker(['run', '--rm', '--network', 'dnsnet', 'bb:test', 'sh', '-c', cmd]);
  assert.match(ok(client('nslookup srv'), 'by name'), new RegExp(`Address: ${ip.replace(/\./g, '\\.')}`));
  assert.match(ok(client('nslookup db'), 'by alias'), new RegExp(`Address: ${ip.replace(/\./g, '\\.')}`));
  assert.equal(
    ok(client('wget -q -O - http://db/'), 'http by alias').trim(),
    `hello-from-${inspect('{{.Config.Hostname}}', 'srv')}`,
  );
  assert.match(ok(client('cat /etc/hosts'), 'hosts'), new RegExp(`\\n10?[\\d.]+\\t[0-9a-f]{12}\\n$`));

  ok(d.docker(['run', '-d', '--name', 'late', 'bb:test', 'sleep', '1000']), 'run on bridge');
  assert.match(inspect('{{.NetworkSettings.IPAddress}}', 'late'), /^\d+\.\d+\.\d+\.\d+$/);
  ok(d.docker(['network', 'connect', '--alias', 'cache', 'dnsnet', 'late']), 'connect');
  const lateIp = inspect('{{.NetworkSettings.Networks.dnsnet.IPAddress}}', 'late');
  assert.match(ok(client('nslookup cache'), 'connect alias'), new RegExp(`Address: ${lateIp.replace(/\./g, '\\.')}`));
  assert.match(ok(d.docker(['exec', 'late', 'sh', '-c', 'ip -4 -o addr']), 'exec'), /eth1.*inet /);
  ok(d.docker(['network', 'disconnect', 'dnsnet', 'late']), 'disconnect');
  assert.notEqual(client('nslookup cache').status, 0, 'gone from DNS after disconnect');
  assert.equal(inspect('{{len .NetworkSettings.Networks}}', 'late'), '1');
  assert.match(d.docker(['network', 'disconnect', 'dnsnet', 'late']).stderr, /is not connected to network dnsnet/);
  // The default bridge has no name resolution, as in Docker.
  assert.notEqual(d.docker(['run', '--rm', 'bb:test', 'nslookup', 'late']).status, 0);
  const res = await d.request('POST', '/v1.41/containers/create', {
    Image: 'bb:test',
    HostConfig: { NetworkMode: 'bridge' },
    NetworkingConfig: { EndpointsConfig: { bridge: { Aliases: ['x'] } } },
  });
  assert.equal(res.status, 400);
  assert.match(res.body, /network-scoped alias is supported only for containers in user defined networks/);

  ok(d.docker(['rm', '-f', 'srv', 'late']), 'rm');
  ok(d.docker(['network', 'rm', 'dnsnet']), 'network rm');
});

test('published ports: -p on loopback, -P from EXPOSE, docker port, ps and inspect; a taken port is refused at start', async () => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  ok(d.docker(['run', '-d', '--name', 'pub', '-p', `127.0.0.1:${port}:80`, 'bb:test', ...httpd()]), 'run -p');
  const host = inspect('{{.Config.Hostname}}', 'pub');
  assert.equal((await eventually(() => get(`http://127.0.0.1:${port}/`))).trim(), `hello-from-${host}`);
  assert.equal(ok(d.docker(['port', 'pub']), 'port'), `80/tcp -> 127.0.0.1:${port}\n`);
  assert.equal(
    ok(d.docker(['ps', '--filter', 'name=pub', '--format', '{{.Ports}}']), 'ps'),
    `127.0.0.1:${port}->80/tcp\n`,
  );
  assert.equal(
    inspect('{{json .NetworkSettings.Ports}}', 'pub'),
    `{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"${port}"}]}`,
  );

  ok(d.docker(['run', '-d', '--name', 'all', '-P', 'bb:test', ...httpd()]), 'run -P');
  const random = Number(inspect('{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}', 'all'));
  assert.ok(random > 0);
  assert.match((await eventually(() => get(`http://127.0.0.1:${random}/`))).trim(), /^hello-from-/);

  assert.equal(
    ok(d.docker(['ps', '-q', '--filter', 'publish=80/tcp']), 'ps')
      .trim()
      .split('\n').length,
    2,
  );
  assert.equal(ok(d.docker(['ps', '-q', '--filter', 'publish=81']), 'ps'), '');
  assert.equal(
    ok(d.docker(['ps', '--filter', 'network=bridge', '--filter', 'expose=80', '--format', '{{.Names}}']), 'ps')
      .trim()
      .split('\n')
      .sort()
      .join(' '),
    'all pub',
  );

  // A port a host process holds: Docker's userland proxy error, and the container is not left running.
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(port + 1, '127.0.0.1', () => r()));
  try {
    const taken = d.docker([
      'run',
      '-d',
      '--name',
      'taken',
      '-p',
      `127.0.0.1:${port + 1}:80`,
      'bb:test',
      'sleep',
      '1000',
    ]);
    assert.notEqual(taken.status, 0);
    assert.match(taken.stderr, new RegExp(`listen tcp4 127.0.0.1:${port + 1}: bind: address already in use`));
    assert.equal(inspect('{{.State.Running}}', 'taken'), 'false');
  } finally {
    holder.close();
  }
  // Published by another container: Docker's allocator words.
  const again = d.docker(['run', '-d', '--name', 'again', '-p', `127.0.0.1:${port}:80`, 'bb:test', 'sleep', '1000']);
  assert.match(again.stderr, new RegExp(`Bind for 127.0.0.1:${port} failed: port is already allocated`));
  ok(d.docker(['rm', 'again']), 'rm');
  // The last container on the network publishes nothing: the port-forwarding chain still goes.
  ok(d.docker(['run', '-d', '--name', 'plain', 'bb:test', 'sleep', '1000']), 'run');
  ok(d.docker(['rm', '-f', 'pub', 'all', 'taken']), 'rm');
  await assert.rejects(get(`http://127.0.0.1:${port}/`), 'the port is released after rm');
  ok(d.docker(['rm', '-f', 'plain']), 'rm');
  const bridgeId = inspect('{{.Id}}', 'bridge');
  const chain = `NETAVARK-DN-${createHash('sha512').update(bridgeId).digest('hex').toUpperCase().slice(0, 13)}`;
  assert.ok(!rules().includes(chain), `the network's port-forwarding chain ${chain} goes with its last container`);
  assert.doesNotMatch(rules(), new RegExp(`dport ${port}\\b`));
});

test('host, none and container:<name> network modes', () => {
  assert.match(
    ok(d.docker(['run', '--rm', '--network', 'none', 'bb:test', 'sh', '-c', 'ip -o link']), 'none'),
    /^1: lo:[^\n]*\n$/,
  );
  const discarded = d.docker(['run', '--rm', '--network', 'host', '-p', '80:80', 'bb:test', 'true']);
  assert.match(discarded.stderr, /Published ports are discarded when using host network mode/);
  const uplink =
    spawnSync('ip', ['-o', 'route', 'show', 'default'], { encoding: 'utf8' }).stdout.match(/ dev (\S+)/)?.[1] ?? 'lo';
  assert.match(
    ok(d.docker(['run', '--rm', '--network', 'host', 'bb:test', 'sh', '-c', 'ip -o link']), 'host'),
    new RegExp(`: ${uplink}[:@]`),
    "the host's interfaces",
  );
  ok(d.docker(['run', '-d', '--name', 'owner', 'bb:test', 'sleep', '1000']), 'run');
  const ip = inspect('{{.NetworkSettings.IPAddress}}', 'owner');
  assert.match(
    ok(d.docker(['run', '--rm', '--network', 'container:owner', 'bb:test', 'sh', '-c', 'ip -4 -o addr']), 'container:'),
    new RegExp(ip.replace(/\./g, '\\.')),
  );
  ok(d.docker(['rm', '-f', 'owner']), 'rm');
});

test('nothing is left behind after rm, network rm and daemon stop', () => {
  const id = ok(d.docker(['network', 'create', '--subnet', '10.231.8.0/24', 'gone']), 'create').trim();
  ok(d.docker(['run', '--rm', '--network', 'gone', 'bb:test', 'true']), 'run');
  ok(d.docker(['network', 'rm', 'gone']), 'rm');
  assert.ok(!links().includes(`br-${id.slice(0, 12)}`), 'the bridge goes with its last container');
  assert.doesNotMatch(rules(), /10\.231\.8\.0\/24/, "and the network's firewall rules");
  assert.deepEqual(fs.readdirSync(path.join(d.dir, 'exec', 'netns')), []);
});

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

test('after a daemon SIGKILL the next start tears down veths, bridges, namespaces, firewall rules and DNS entries', async () => {
  const dir = fs.mkdtempSync('/tmp/strata-netkill-');
  const sock = path.join(dir, 's.sock');
  const docker = (...args: string[]) =>
    spawnSync('docker', args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: `unix://${sock}` } });
  const start = () => spawnDaemonIn(dir);
  let proc = await start();
  try {
    fs.copyFileSync(path.join(d.dir, 'bb.tar'), path.join(dir, 'bb.tar'));
    assert.equal(docker('load', '-i', path.join(dir, 'bb.tar')).status, 0);
    assert.equal(docker('network', 'create', '--subnet', '10.232.9.0/24', 'killnet').status, 0);
    const port = 20000 + Math.floor(Math.random() * 20000);
    assert.equal(
      docker('run', '-d', '--name', 'k1', '--network', 'killnet', '-p', `${port}:80`, 'bb:test', 'sleep', '1000')
        .status,
      0,
    );
    assert.equal(docker('run', '-d', '--name', 'k2', 'bb:test', 'sleep', '1000').status, 0);
    const bridges = [
      docker('network', 'inspect', '-f', '{{.Id}}', 'killnet').stdout.trim(),
      docker('network', 'inspect', '-f', '{{.Id}}', 'bridge').stdout.trim(),
    ].map((id) => `br-${id.slice(0, 12)}`);
    assert.ok(
      bridges.every((b) => links().includes(b)),
      'bridges up while containers run',
    );
    assert.match(rules(), /10\.232\.9\.0\/24/);
    proc.kill('SIGKILL');
    await new Promise((r) => proc.once('exit', r));
    assert.equal(
      fs.readdirSync(path.join(dir, 'exec', 'netns')).length,
      4,
      'two namespaces and their setups were left',
    );

    proc = await start();
    assert.deepEqual(
      bridges.filter((b) => links().includes(b)),
      [],
      'bridges removed',
    );
    assert.doesNotMatch(rules(), /10\.232\.9\.0\/24/, 'firewall rules of the network removed');
    assert.doesNotMatch(rules(), new RegExp(`dport ${port}\\b`), 'port forwarding rules removed');
    assert.deepEqual(fs.readdirSync(path.join(dir, 'exec', 'netns')), [], 'namespaces removed');
    const aardvark = path.join(dir, 'exec', 'netavark', 'aardvark-dns');
    assert.deepEqual(
      fs.existsSync(aardvark) ? fs.readdirSync(aardvark).filter((f) => f !== 'aardvark.pid') : [],
      [],
      'DNS entries removed',
    );
    assert.equal(docker('start', 'k1').status, 0, 'a recovered container starts on its network again');
    assert.equal(docker('rm', '-f', 'k1', 'k2').status, 0);
    assert.equal(docker('network', 'rm', 'killnet').status, 0);
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once('exit', r)));
    spawnSync('runc', ['--root', path.join(dir, 'exec', 'runc'), 'delete', '--force', 'k1']);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a data-root whose killed daemon lost its exec-root: the next start, or network-leftovers.mjs after it, removes its bridges and chains, and no other daemon's", async () => {
  const dir = fs.mkdtempSync('/tmp/strata-netlost-');
  const sock = path.join(dir, 's.sock');
  const docker = (...args: string[]) =>
    spawnSync('docker', args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: `unix://${sock}` } });
  const start = async (execRoot: string): Promise<ChildProcess> => {
    const log = fs.openSync(path.join(dir, 'daemon.log'), 'a');
    const p = spawn(
      path.join(repoRoot, 'bin/strata'),
      ['daemon', '--data-root', path.join(dir, 'root'), '--exec-root', execRoot, '--host', `unix://${sock}`],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    for (let i = 0; i < 200 && docker('version').status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    return p;
  };
  const aardvarkUnder = (root: string) =>
    fs.readdirSync('/proc').filter((p) => {
      try {
        const argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
        return argv.includes('aardvark-dns') && argv.includes(root);
      } catch {
        return false;
      }
    });
  const chain = (id: string) => `NETAVARK-${createHash('sha512').update(id).digest('hex').toUpperCase().slice(0, 13)}`;
  // Kills the daemon and its container as a script's cleanup would, and deletes its exec-root.
  const killAndLoseExecRoot = async (p: ChildProcess, execRoot: string, containerId: string) => {
    p.kill('SIGKILL');
    await new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once('exit', r)));
    spawnSync('runc', ['--root', path.join(execRoot, 'runc'), 'delete', '--force', containerId]);
    const mounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m.startsWith(execRoot));
    for (const m of mounts.sort().reverse()) spawnSync('umount', ['-l', m]);
    fs.rmSync(execRoot, { recursive: true, force: true });
  };
  // Another daemon's network, up while this one is killed and cleaned after.
  const otherId = ok(d.docker(['network', 'create', '--subnet', '10.234.3.0/24', 'othernet']), 'create').trim();
  ok(d.docker(['run', '-d', '--name', 'other', '--network', 'othernet', 'bb:test', 'sleep', '1000']), 'run');
  let proc = await start(path.join(dir, 'exec'));
  try {
    fs.copyFileSync(path.join(d.dir, 'bb.tar'), path.join(dir, 'bb.tar'));
    assert.equal(docker('load', '-i', path.join(dir, 'bb.tar')).status, 0);
    const id = docker('network', 'create', '--subnet', '10.233.7.0/24', 'lostnet').stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const run1 = docker('run', '-d', '--network', 'lostnet', 'bb:test', 'sleep', '1000');
    assert.equal(run1.status, 0, run1.stderr);
    const bridge = `br-${id.slice(0, 12)}`;
    assert.ok(links().includes(bridge), 'the bridge is up while the container runs');
    assert.ok(rules().includes(`:${chain(id)} `), "the network's nat chain exists");
    await killAndLoseExecRoot(proc, path.join(dir, 'exec'), run1.stdout.trim());
    assert.ok(links().includes(bridge), 'the bridge outlives the killed daemon');
    assert.ok(rules().includes(`:${chain(id)} `), 'and so does its chain');

    proc = await start(path.join(dir, 'exec'));
    assert.ok(!links().includes(bridge), 'the next start removed the bridge');
    assert.ok(!rules().includes(chain(id)), 'and the nat chain and its POSTROUTING jump');
    assert.doesNotMatch(rules(), /10\.233\.7\.0\/24/, 'and the forward rules of its subnet');
    assert.match(fs.readFileSync(path.join(dir, 'daemon.log'), 'utf8'), new RegExp(`removed bridge ${bridge}`));
    assert.deepEqual(aardvarkUnder(dir), [], "the killed daemon's DNS server was ended");

    // The same through the script, with the daemon gone for good.
    const run2 = docker('run', '-d', '--network', 'lostnet', 'bb:test', 'sleep', '1000');
    assert.equal(run2.status, 0, run2.stderr);
    assert.ok(links().includes(bridge));
    await killAndLoseExecRoot(proc, path.join(dir, 'exec'), run2.stdout.trim());
    const script = spawnSync(
      'node',
      [path.join(repoRoot, 'scripts/network-leftovers.mjs'), path.join(dir, 'root'), path.join(dir, 'exec')],
      { encoding: 'utf8' },
    );
    assert.equal(script.status, 0, script.stderr + script.stdout);
    assert.match(script.stdout, new RegExp(`removed bridge ${bridge}`), 'the script says what it removed');
    assert.match(script.stdout, new RegExp(`removed iptables chain ${chain(id)}`));
    assert.ok(!links().includes(bridge));
    assert.ok(!rules().includes(chain(id)));
    assert.deepEqual(aardvarkUnder(dir), []);

    assert.ok(links().includes(`br-${otherId.slice(0, 12)}`), "the other daemon's bridge stayed");
    assert.ok(rules().includes(`:${chain(otherId)} `), 'and its chain');
    assert.match(rules(), /10\.234\.3\.0\/24/);
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
    }
    ok(d.docker(['rm', '-f', 'other']), 'rm');
    ok(d.docker(['network', 'rm', 'othernet']), 'network rm');
    spawnSync('node', [
      path.join(repoRoot, 'scripts/network-leftovers.mjs'),
      path.join(dir, 'root'),
      path.join(dir, 'exec'),
    ]);
    const mounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m.startsWith(dir));
    for (const m of mounts.sort().reverse()) spawnSync('umount', ['-l', m]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a clean start lists no nat table; a bridge of its networks left on the host makes it look, and go', async () => {
  const dir = fs.mkdtempSync('/tmp/strata-netclean-');
  const sock = path.join(dir, 's.sock');
  // iptables-save as the daemon finds it: notes each run, then runs the real one.
  const bin = path.join(dir, 'bin');
  const listed = path.join(dir, 'iptables-save.runs');
  const real = spawnSync('sh', ['-c', 'command -v iptables-save'], { encoding: 'utf8' }).stdout.trim();
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, 'iptables-save'), `#!/bin/sh\necho run >> ${listed}\nexec ${real} "$@"\n`, {
    mode: 0o755,
  });
  const docker = (...args: string[]) =>
    spawnSync('docker', args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: `unix://${sock}` } });
  const start = () => spawnDaemonIn(dir, { ...process.env, PATH: `${bin}:${process.env.PATH}` });
  const stop = async (p: ChildProcess) => {
    if (p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
  };
  let proc = await start();
  let bridge = '';
  try {
    const id = docker('network', 'create', '--subnet', '10.235.4.0/24', 'cleannet').stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    bridge = `br-${id.slice(0, 12)}`;
    await stop(proc);
    fs.rmSync(listed, { force: true });
    proc = await start();
    assert.equal(docker('version').status, 0);
    assert.ok(!fs.existsSync(listed), 'a start with no trace of leftovers runs no iptables-save');
    await stop(proc);

    // A bridge of one of its networks on the host, as a killed daemon leaves it: the start looks
    // (the teardown itself, of a bridge without the chains netavark made, is the other tests' part).
    assert.equal(spawnSync('ip', ['link', 'add', bridge, 'type', 'bridge']).status, 0);
    proc = await start();
    assert.ok(fs.existsSync(listed), 'the nat table was listed');
    assert.match(fs.readFileSync(path.join(dir, 'daemon.log'), 'utf8'), /network recovery: (removed bridge|cleannet)/);
  } finally {
    await stop(proc);
    if (bridge && links().includes(bridge)) spawnSync('ip', ['link', 'del', bridge]);
    spawnSync('node', [
      path.join(repoRoot, 'scripts/network-leftovers.mjs'),
      path.join(dir, 'root'),
      path.join(dir, 'exec'),
    ]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('legacy links on the default bridge: hosts line and environment, a stopped or missing target refused, rm --link', () => {
  ok(
    d.docker(['run', '-d', '--name', 'linked', '-e', 'SECRET=s3', '--expose', '6379', 'bb:test', 'sleep', '1000']),
    'run target',
  );
  const ip = inspect('{{.NetworkSettings.IPAddress}}', 'linked');
  const host = inspect('{{.Config.Hostname}}', 'linked');
  ok(d.docker(['run', '-d', '--name', 'parent', '--link', 'linked:db', 'bb:test', 'sleep', '1000']), 'run parent');
  assert.equal(inspect('{{json .HostConfig.Links}}', 'parent'), '["/linked:/parent/db"]');
  const env = ok(d.docker(['exec', 'parent', 'env']), 'env').split('\n');
  for (const e of [
    `DB_PORT=tcp://${ip}:80`,
    `DB_PORT_6379_TCP=tcp://${ip}:6379`,
    `DB_PORT_6379_TCP_ADDR=${ip}`,
    'DB_PORT_6379_TCP_PORT=6379',
    'DB_PORT_6379_TCP_PROTO=tcp',
    'DB_NAME=/parent/db',
    'DB_ENV_SECRET=s3',
  ])
    assert.ok(env.includes(e), `${e} in ${env.join(' ')}`);
  assert.ok(!env.some((e) => e.startsWith('DB_ENV_PATH=')));
  assert.match(
    ok(d.docker(['exec', 'parent', 'cat', '/etc/hosts']), 'hosts'),
    new RegExp(`\\n${ip.replace(/\./g, '\\.')}\\tdb ${host} linked\\n`),
  );

  ok(d.docker(['rm', '--link', '/parent/db']), 'rm --link');
  assert.equal(inspect('{{json .HostConfig.Links}}', 'parent'), 'null');
  assert.equal(inspect('{{.State.Running}}', 'linked'), 'true', 'rm --link removes no container');

  assert.match(d.docker(['create', '--link', 'nosuch:x', 'bb:test']).stderr, /could not get container for nosuch/);
  ok(d.docker(['create', '--name', 'later', '--link', 'linked:db', 'bb:test', 'true']), 'create');
  ok(d.docker(['stop', '-t', '0', 'linked']), 'stop');
  assert.match(d.docker(['start', 'later']).stderr, /Cannot link to a non running container: \/linked AS \/later\/db/);
  ok(d.docker(['network', 'create', 'linknet']), 'create');
  assert.match(
    d.docker(['create', '--network', 'linknet', '--link', 'linked:db', 'bb:test']).stderr,
    /links on user-defined networks are not supported/,
  );
  ok(d.docker(['rm', '-f', 'linked', 'parent', 'later']), 'rm');
  ok(d.docker(['network', 'rm', 'linknet']), 'rm');
});
