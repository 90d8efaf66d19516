// `strata system check` right after a container's exit: the exit is answered before the
// teardown unmounts the container's rootfs, so a check (or a repair) that ran then must leave
// those mounts to the teardown instead of calling them stale and detaching them. The teardown
// is held open by a volume plugin that answers Unmount only when told to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { exited, mountsUnder, mountsUnderSettled, spawnDaemonIn } from '../helpers/daemon.js';
import { startTestPlugin } from '../volume/fixtures/volume-plugin.js';
import { busyboxArchive } from '../container/busybox-image.js';

const strataBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/strata');

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

// Asynchronous: the plugin answers from this process, which a synchronous spawn would block.
const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv) =>
  new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile(cmd, args, { env }, (err, stdout, stderr) =>
      resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });

interface Report {
  Faults: { Kind: string; Path: string; Repaired: boolean; Action?: string }[];
  Remaining: number;
}

test(
  'a check and a repair during the teardown behind an answered exit leave its mounts to it',
  { timeout: 180_000 },
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-check-exit-'));
    const socket = path.join(dir, 's.sock');
    const plugin = await startTestPlugin(path.join(dir, 'plugins'), 'holddrv');
    const env = { ...process.env, STRATA_PLUGIN_DIRS: path.join(dir, 'plugins'), DOCKER_HOST: `unix://${socket}` };
    const must = async (...args: string[]) => {
      const r = await run('docker', args, env);
      assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    const check = async (...flags: string[]) => {
      const r = await run(
        strataBin,
        ['-H', `unix://${socket}`, 'system', 'check', '--quick', '--format', 'json', ...flags],
        env,
      );
      assert.ok(r.stdout, `check printed nothing: ${r.stderr}`);
      return { status: r.status, report: JSON.parse(r.stdout) as Report };
    };
    let release = () => {};
    const proc = await spawnDaemonIn(dir, env);
    t.after(async () => {
      release();
      proc.kill('SIGTERM');
      await exited(proc);
      await plugin.close();
      for (const m of mountsUnder(dir).sort().reverse()) spawnSync('umount', ['-l', m]);
      const runcRoot = path.join(dir, 'exec', 'runc');
      for (const id of spawnSync('runc', ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8' }).stdout.split('\n'))
        if (id) spawnSync('runc', ['--root', runcRoot, 'delete', '--force', id]);
      spawnSync('node', [
        path.resolve(strataBin, '../../scripts/network-leftovers.mjs'),
        path.join(dir, 'root'),
        path.join(dir, 'exec'),
      ]);
      fs.rmSync(dir, { recursive: true, force: true });
    });
    fs.writeFileSync(path.join(dir, 'bb.tar'), await busyboxArchive('bb:test'));
    await must('load', '-i', path.join(dir, 'bb.tar'));
    await must('volume', 'create', '-d', 'holddrv', 'held');
    const id = await must('create', '--name', 'quick', '-v', 'held:/v', 'bb:test', 'sh', '-c', 'echo x > /f; exit 3');
    const containers = path.join(dir, 'root', 'containers');
    const rootfs = path.join(containers, id, 'merged');

    release = plugin.holdUnmounts();
    const wait = request(socket, 'POST', `/containers/${id}/wait?condition=next-exit`);
    await must('start', 'quick');
    assert.equal(JSON.parse((await wait).body).StatusCode, 3);
    assert.ok(mountsUnder(containers).includes(rootfs), 'the exit is answered with the teardown still under way');

    const during = await check();
    assert.deepEqual(during.report.Faults, [], 'nothing the teardown is undoing is a fault');
    assert.equal(during.status, 0);
    const repair = await check('--repair');
    assert.deepEqual(repair.report.Faults, [], 'nor anything a repair takes');
    assert.ok(mountsUnder(containers).includes(rootfs), 'the rootfs is still mounted, for the teardown to unmount');

    release();
    assert.deepEqual(await mountsUnderSettled(containers), [], 'the teardown unmounted it');
    assert.equal(await must('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'quick'), 'exited 3');
    const after = await check();
    assert.deepEqual(after.report.Faults, [], 'and once it is done nothing is left');
    await must('start', 'quick');
    assert.equal(await must('wait', 'quick'), '3', 'the container starts again');
    await must('rm', 'quick');
    await must('volume', 'rm', 'held');
  },
);
