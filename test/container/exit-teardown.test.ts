// A container's exit is answered (wait, the die event) as soon as its process is gone, while
// the teardown (volume unmounts, the rootfs unmount, the bundle) runs behind it; a start or a
// commit of that container waits for the teardown, and a daemon killed in between recovers.
// The teardown is held open by a volume plugin that answers Unmount only when told to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { execFile, spawnSync } from 'node:child_process';
import { exited, mountsUnder, spawnDaemonIn } from '../helpers/daemon.js';
import { startTestPlugin } from '../volume/fixtures/volume-plugin.js';
import { busyboxArchive } from './busybox-image.js';

function request(socket: string, method: string, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path: urlPath }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

test(
  'exit answered before teardown; start and commit wait for it; a crash in between recovers',
  { timeout: 180_000 },
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-exit-'));
    const socket = path.join(dir, 's.sock');
    const plugin = await startTestPlugin(path.join(dir, 'plugins'), 'holddrv');
    process.env.STRATA_PLUGIN_DIRS = path.join(dir, 'plugins');
    // Asynchronous: the plugin answers from this process, which a synchronous spawn would block.
    const docker = (...args: string[]) =>
      new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
        execFile('docker', args, { env: { ...process.env, DOCKER_HOST: `unix://${socket}` } }, (err, stdout, stderr) =>
          resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const must = async (...args: string[]) => {
      const r = await docker(...args);
      assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    let release = () => {};
    let proc = await spawnDaemonIn(dir);
    t.after(async () => {
      release();
      proc.kill('SIGKILL');
      await exited(proc);
      await plugin.close();
      for (const m of mountsUnder(dir).sort().reverse()) spawnSync('umount', ['-l', m]);
      const runcRoot = path.join(dir, 'exec', 'runc');
      for (const id of spawnSync('runc', ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8' }).stdout.split('\n'))
        if (id) spawnSync('runc', ['--root', runcRoot, 'delete', '--force', id]);
      delete process.env.STRATA_PLUGIN_DIRS;
      fs.rmSync(dir, { recursive: true, force: true });
    });
    fs.writeFileSync(path.join(dir, 'bb.tar'), await busyboxArchive('bb:test'));
    await must('load', '-i', path.join(dir, 'bb.tar'));
    await must('volume', 'create', '-d', 'holddrv', 'held');
    const containers = path.join(dir, 'root', 'containers');

    // 200 files in the writable layer, then exit 3, with the volume's Unmount held.
    const id = await must(
      'create',
      '--name',
      'writer',
      '-v',
      'held:/v',
      'bb:test',
      'sh',
      '-c',
      'mkdir /d; i=0; while [ $i -lt 200 ]; do echo $i > /d/f$i; i=$((i+1)); done; exit 3',
    );
    const rootfs = path.join(containers, id, 'merged');
    release = plugin.holdUnmounts();
    const wait = request(socket, 'POST', `/containers/${id}/wait?condition=next-exit`);
    await must('start', 'writer');
    const answered = await wait;
    assert.equal(answered.status, 200);
    assert.equal(JSON.parse(answered.body).StatusCode, 3);
    assert.ok(
      mountsUnder(containers).includes(rootfs),
      'the wait is answered while the teardown is still under way (the rootfs is still mounted)',
    );

    // A start and a commit of the container now wait for the teardown to finish.
    let released = false;
    const order: string[] = [];
    const start = request(socket, 'POST', `/containers/${id}/start`).then((r) => {
      order.push(`start ${r.status} after release: ${released}`);
    });
    const commit = request(socket, 'POST', `/commit?container=${id}&repo=committed&tag=1`).then((r) => {
      order.push(`commit ${r.status} after release: ${released}`);
    });
    // The pause gives a start or commit that did not wait the time to finish (and be caught by
    // the assertions below); one that waits passes whatever the pause.
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(order, [], 'neither finishes while the unmount is held');
    released = true;
    release();
    await Promise.all([start, commit]);
    assert.deepEqual(order.sort(), ['commit 201 after release: true', 'start 204 after release: true']);
    assert.equal(await must('wait', 'writer'), '3');
    assert.equal(
      await must('run', '--rm', 'committed:1', 'sh', '-c', 'ls /d | wc -l'),
      '200',
      'the commit saw every file',
    );
    await must('rm', 'writer');
    await must('rmi', 'committed:1');

    // The daemon is killed after the exit was answered and before the teardown finished.
    const id2 = await must(
      'create',
      '--name',
      'crash',
      '-v',
      'held:/v',
      'bb:test',
      'sh',
      '-c',
      'echo kept > /kept; exit 5',
    );
    release = plugin.holdUnmounts();
    const wait2 = request(socket, 'POST', `/containers/${id2}/wait?condition=next-exit`);
    await must('start', 'crash');
    assert.equal(JSON.parse((await wait2).body).StatusCode, 5);
    proc.kill('SIGKILL');
    await exited(proc);
    release();
    proc = await spawnDaemonIn(dir);
    assert.equal(await must('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'crash'), 'exited 5');
    assert.deepEqual(mountsUnder(containers), [], 'the recovered daemon unmounted the rootfs');
    const runc = spawnSync('runc', ['--root', path.join(dir, 'exec', 'runc'), 'list', '-q'], { encoding: 'utf8' });
    assert.equal(runc.stdout.trim(), '', 'runc knows no container');
    await must('start', 'crash');
    assert.equal(await must('wait', 'crash'), '5');
    assert.match(await must('diff', 'crash'), /^A \/kept$/m, 'the writable layer is intact');
    await must('rm', 'crash');
    await must('volume', 'rm', 'held');
  },
);
