// system df against what is really on disk, after writes, deletes and copy-ups.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from '../container/busybox-image.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  const tar = await busyboxArchive('dftest:latest');
  const r = spawnSync('docker', ['load'], { input: tar, env: { ...process.env, DOCKER_HOST: d.host } });
  assert.equal(r.status, 0, String(r.stderr));
});
after(async () => {
  d.docker(['rm', '-f', 'dfc']);
  d.docker(['volume', 'rm', '-f', 'dfvol']);
  await d.stop();
});

/** Apparent size of every non-directory under `dir`, each inode once: the figure Docker's df reports. */
function measured(dir: string): number {
  const out = execFileSync('find', [dir, '-not', '-type', 'd', '-printf', '%i %s\n'], { encoding: 'utf8' });
  const seen = new Map<string, number>();
  for (const line of out.split('\n').filter(Boolean)) {
    const [ino, size] = line.split(' ');
    seen.set(ino!, Number(size));
  }
  return [...seen.values()].reduce((a, b) => a + b, 0);
}

async function df(): Promise<{
  Containers: { Names: string[]; SizeRw: number }[];
  Volumes: { Name: string; UsageData: { Size: number; RefCount: number } }[];
}> {
  const r = await d.request('GET', '/v1.41/system/df');
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body);
}

test('container and volume figures follow writes, deletes and copy-ups, and match the disk', async () => {
  const run = d.docker(['run', '-d', '--name', 'dfc', '-v', 'dfvol:/vol', 'dftest', 'sleep', '1000']);
  assert.equal(run.status, 0, run.stderr);
  const upper = d.docker(['inspect', '-f', '{{.GraphDriver.Data.UpperDir}}', 'dfc']).stdout.trim();
  const mountpoint = d.docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'dfvol']).stdout.trim();
  const steps: [string, string][] = [
    ['write 300 kB into the layer', 'dd if=/dev/zero of=/big bs=1000 count=300 2>/dev/null'],
    ['copy-up by appending to an image file', 'echo more >> /data/seed.txt'],
    ['write 1 MiB into the volume', 'dd if=/dev/zero of=/vol/blob bs=1024 count=1024 2>/dev/null'],
    ['delete from the layer and the volume', 'rm /big /vol/blob && echo x > /vol/small'],
  ];
  for (const [what, cmd] of steps) {
    const e = d.docker(['exec', 'dfc', 'sh', '-c', cmd]);
    assert.equal(e.status, 0, `${what}: ${e.stderr}`);
    const usage = await df();
    const c = usage.Containers.find((x) => x.Names.includes('/dfc'))!;
    const upperDir = upper.startsWith('/') ? upper : '';
    if (upperDir) assert.equal(c.SizeRw, measured(upperDir), `${what}: container SizeRw`);
    const v = usage.Volumes.find((x) => x.Name === 'dfvol')!;
    assert.equal(v.UsageData.Size, measured(mountpoint), `${what}: volume size`);
    assert.equal(v.UsageData.RefCount, 1);
  }
});

test('docker system df prints the four rows', () => {
  const r = d.docker(['system', 'df', '--format', '{{.Type}} {{.TotalCount}}']);
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n');
  assert.deepEqual(
    rows.map((l) => l.replace(/ \d+$/, '')),
    ['Images', 'Containers', 'Local Volumes', 'Build Cache'],
  );
  assert.ok(rows.includes('Images 1'), rows.join(','));
});

test('strata system df: inodes of layers, containers and volumes as on disk, and the data-root filesystem', async () => {
  const inodesOf = (dir: string) =>
    new Set(execFileSync('find', [dir, '-printf', '%i\n'], { encoding: 'utf8' }).split('\n').filter(Boolean)).size;
  let r = d.docker([
    'run',
    '--name',
    'inodec',
    '-v',
    'inodevol:/vol',
    'dftest',
    'sh',
    '-c',
    'mkdir /made && for i in $(seq 50); do echo $i > /made/f$i; done; for i in $(seq 300); do : > /vol/v$i; done; ln /vol/v1 /vol/hard',
  ]);
  assert.equal(r.status, 0, r.stderr);
  try {
    const res = await d.request('GET', '/strata/system/df');
    assert.equal(res.status, 200, res.body);
    const report = JSON.parse(res.body);
    const upper = d.docker(['inspect', '-f', '{{.GraphDriver.Data.UpperDir}}', 'inodec']).stdout.trim();
    const container = report.Containers.find((c: { Name: string }) => c.Name === 'inodec');
    assert.equal(container.Inodes, inodesOf(upper));
    assert.ok(container.Inodes >= 51);
    const mountpoint = d.docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'inodevol']).stdout.trim();
    const volume = report.Volumes.find((v: { Name: string }) => v.Name === 'inodevol');
    assert.equal(volume.Inodes, inodesOf(mountpoint), 'a hard link is one inode');
    assert.equal(volume.Inodes, 301);
    assert.equal(volume.RefCount, 1);
    assert.ok(report.Layers.Count >= 1 && report.Layers.Inodes > 0);
    assert.ok(report.DataRoot.Inodes > 0 && report.DataRoot.InodesFree <= report.DataRoot.Inodes);
    assert.ok(report.DataRoot.Free <= report.DataRoot.Size);

    const strata = (...args: string[]) =>
      spawnSync(path.resolve('bin/strata'), ['-H', d.host, 'system', 'df', ...args], { encoding: 'utf8' });
    const plain = strata();
    assert.equal(plain.status, 0, plain.stderr);
    assert.match(
      plain.stdout,
      /^TYPE +TOTAL +ACTIVE +SIZE +INODES\nLayers +\d+ +\S+ +\d+\nContainers +\d+ +\d+ +\S+ +\d+\nLocal Volumes +\d+ +\d+ +\S+ +\d+\n\nData-root .*: \S+ of \S+ free \(\d+%\), \d+ of \d+ inodes free \(\d+%\)\n$/,
    );
    const verbose = strata('-v');
    assert.match(verbose.stdout, /\ninodevol +1 +\S+ +301\n/);
    assert.match(verbose.stdout, new RegExp(`\\n[0-9a-f]{12} +inodec +dftest +exited +\\S+ +${container.Inodes}\\n`));
  } finally {
    d.docker(['rm', '-f', 'inodec']);
    d.docker(['volume', 'rm', '-f', 'inodevol']);
  }
});

test('docker system prune -af --volumes removes what nothing uses (anonymous volumes only, API >= 1.42) and reports the space', () => {
  d.docker(['rm', '-f', 'dfc']);
  assert.equal(d.docker(['create', '--name', 'dfstopped', '-v', '/anon', 'dftest', 'true']).status, 0);
  const anon = d.docker(['inspect', '-f', '{{range .Mounts}}{{.Name}}{{end}}', 'dfstopped']).stdout.trim();
  assert.match(anon, /^[0-9a-f]{64}$/);
  const r = d.docker(['system', 'prune', '-af', '--volumes']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Total reclaimed space: /);
  assert.equal(d.docker(['images', '-q']).stdout.trim(), '', 'no image left');
  assert.equal(d.docker(['ps', '-aq']).stdout.trim(), '', 'the stopped container is gone');
  assert.equal(
    d.docker(['volume', 'ls', '-q']).stdout.trim(),
    'dfvol',
    'the anonymous volume is gone, the named one kept',
  );
});
