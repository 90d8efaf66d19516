// The API core through a real daemon: ping, version, info, errors, and the docker CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
});
after(async () => {
  await d?.stop();
});

test('/_ping answers OK with the negotiation headers, also under a version prefix and for HEAD', async () => {
  for (const p of ['/_ping', '/v1.41/_ping']) {
    const r = await d.request('GET', p);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'OK');
    assert.equal(r.headers['api-version'], '1.50');
    assert.equal(r.headers['ostype'], 'linux');
    assert.equal(r.headers['docker-experimental'], 'false');
    assert.ok(r.headers['builder-version']);
  }
  const h = await d.request('HEAD', '/_ping');
  assert.equal(h.status, 200);
  assert.equal(h.body, '');
});

test("versions outside 1.24–1.50 are refused with Docker's words", async () => {
  const old = await d.request('GET', '/v1.20/version');
  assert.equal(old.status, 400);
  assert.match(JSON.parse(old.body).message, /client version 1.20 is too old\. Minimum supported API version is 1.24/);
  const neu = await d.request('GET', '/v1.99/version');
  assert.equal(neu.status, 400);
  assert.match(JSON.parse(neu.body).message, /Maximum supported API version is 1.50/);
});

test('an endpoint not built answers 501 with a JSON message; an unknown path 404', async () => {
  const swarm = await d.request('GET', '/v1.41/swarm');
  assert.equal(swarm.status, 501);
  assert.match(JSON.parse(swarm.body).message, /not implemented/);
  const none = await d.request('GET', '/v1.41/no/such/thing');
  assert.equal(none.status, 404);
  assert.ok(JSON.parse(none.body).message);
});

test('docker version and docker info work, and info names the storage driver and root dir', () => {
  const v = d.docker(['version', '--format', '{{.Server.APIVersion}}']);
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.stdout.trim(), '1.50');
  const info = d.docker(['info']);
  assert.equal(info.status, 0, info.stderr);
  assert.match(info.stdout, /Storage Driver: (overlay2|vfs)/);
  assert.ok(info.stdout.includes(`Docker Root Dir: ${d.dataRoot}`));
  const driver = d.docker(['info', '--format', '{{.Driver}}']).stdout.trim();
  if (driver === 'overlay2') assert.match(info.stdout, /Backing Filesystem: \w+/);
});

test('a second daemon on the same data-root is refused', () => {
  const r = spawnSync(
    path.resolve('bin/strata'),
    ['daemon', '--data-root', d.dataRoot, '--host', `unix://${d.dir}/second.sock`],
    { encoding: 'utf8', timeout: 20_000 },
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /another Strata daemon \(pid \d+\) is using data-root/);
});

test('the predefined networks (bridge, host, none) are listed, unknown ones are 404, so an untyped docker inspect says "No such object"', async () => {
  const ls = d.docker(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']);
  assert.equal(ls.status, 0, ls.stderr);
  assert.deepEqual(ls.stdout.trim().split('\n').sort(), ['bridge bridge', 'host host', 'none null']);
  const net = await d.request('GET', '/v1.41/networks/nope');
  assert.equal(net.status, 404);
  assert.equal(JSON.parse(net.body).message, 'network nope not found');
  const plugin = await d.request('GET', '/v1.41/plugins/foo/json');
  assert.equal(plugin.status, 404);
  const inspect = d.docker(['inspect', 'no-such-thing-anywhere']);
  assert.notEqual(inspect.status, 0);
  assert.match(inspect.stderr, /No such object: no-such-thing-anywhere/);
});
