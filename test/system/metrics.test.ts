// The Prometheus endpoint against a real daemon: per-container and per-volume figures agree
// with docker inspect --size and the volume's files, plus the data-root's filesystem.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from '../container/busybox-image.js';

let d: TestDaemon;
let port = 0;

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const p = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return p;
}

before(async () => {
  port = await freePort();
  d = await startDaemon(['--metrics-addr', `127.0.0.1:${port}`]);
  const r = spawnSync('docker', ['load'], {
    input: await busyboxArchive('metrics:latest'),
    env: { ...process.env, DOCKER_HOST: d.host },
  });
  assert.equal(r.status, 0, String(r.stderr));
});
after(async () => {
  d.docker(['rm', '-f', 'mc']);
  d.docker(['volume', 'rm', '-f', 'mvol']);
  await d.stop();
});

function sample(text: string, name: string, label: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(name + '{') && l.includes(label));
  return line ? Number(line.split(' ').pop()) : undefined;
}

test('metrics report the writable layer, volumes, layers and the data-root filesystem', async () => {
  assert.equal(d.docker(['run', '-d', '--name', 'mc', '-v', 'mvol:/v', 'metrics', 'sleep', '1000']).status, 0);
  assert.equal(
    d.docker([
      'exec',
      'mc',
      'sh',
      '-c',
      'dd if=/dev/zero of=/f bs=1000 count=50 2>/dev/null; dd if=/dev/zero of=/v/g bs=1000 count=7 2>/dev/null',
    ]).status,
    0,
  );
  const sizeRw = Number(d.docker(['inspect', '--size', '-f', '{{.SizeRw}}', 'mc']).stdout.trim());
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.equal(sample(text, 'container_fs_usage_bytes', 'name="mc"'), sizeRw);
  assert.ok(sizeRw >= 50_000);
  assert.equal(sample(text, 'strata_volume_usage_bytes', 'volume="mvol"'), 7000);
  assert.match(text, /^strata_layers 1$/m);
  assert.match(text, /^strata_images 1$/m);
  assert.ok((sample(text, 'strata_data_root_inodes', 'kind="free"') ?? 0) > 0);
  assert.ok((sample(text, 'strata_data_root_bytes', 'kind="free"') ?? 0) > 0);
  const missing = await fetch(`http://127.0.0.1:${port}/nothing`);
  assert.equal(missing.status, 404);
});
