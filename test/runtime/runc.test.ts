// runc driven for real on a busybox root directory: exit codes, separate stdout/stderr, a
// terminal, exec with a user and a working directory, kill, and a failed start with runc's
// words. Nothing may be left in runc's state directory afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { createRuncRuntime } from '../../src/runtime/runc.js';
import { buildSpec, buildExecProcess, DEFAULT_CAPABILITIES } from '../../src/runtime/oci-spec.js';
import { busyboxRootfs } from '../container/busybox-image.js';

async function collect(s: Readable | null): Promise<string> {
  if (!s) return '';
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function setup(t: { after(fn: () => void | Promise<void>): void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-runc-'));
  const rootfs = path.join(dir, 'bundle', 'rootfs');
  fs.mkdirSync(rootfs, { recursive: true });
  busyboxRootfs(rootfs);
  const etc = path.join(dir, 'etc');
  fs.mkdirSync(etc);
  for (const f of ['hosts', 'hostname', 'resolv.conf']) fs.writeFileSync(path.join(etc, f), `${f}\n`);
  const runtime = createRuncRuntime({ stateRoot: path.join(dir, 'runc') });
  const bundle = path.join(dir, 'bundle');
  const writeSpec = (args: string[], extra: Partial<Parameters<typeof buildSpec>[0]> = {}) => {
    const spec = buildSpec({
      id: 'x',
      rootfs,
      readonlyRootfs: false,
      args,
      env: ['PATH=/bin'],
      cwd: '/',
      user: { uid: 0, gid: 0 },
      tty: false,
      hostname: 'testhost',
      privateNetwork: true,
      mounts: [],
      etcFiles: {
        hosts: path.join(etc, 'hosts'),
        hostname: path.join(etc, 'hostname'),
        resolvConf: path.join(etc, 'resolv.conf'),
      },
      ...extra,
    });
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
  };
  t.after(async () => {
    for (const id of await runtime.list()) await runtime.delete(id);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { dir, rootfs, bundle, runtime, writeSpec };
}

test('run: exit code, stdout and stderr apart, hostname, nothing left in runc state', async (t) => {
  const { bundle, runtime, writeSpec } = setup(t);
  writeSpec(['sh', '-c', 'echo out; echo err >&2; hostname; cat /etc/hosts; exit 3']);
  const id = `strata-test-${process.pid}-a`;
  const p = await runtime.run(id, bundle, { tty: false, stdin: false });
  assert.ok(p.pid > 0);
  const [out, err, code] = await Promise.all([collect(p.stdout), collect(p.stderr), p.exited]);
  assert.equal(code, 3);
  assert.equal(out, 'out\ntesthost\nhosts\n');
  assert.equal(err, 'err\n');
  assert.deepEqual(await runtime.list(), []);
});

test('run with a terminal: one stream, CRLF line endings, the size we set', async (t) => {
  const { bundle, runtime, writeSpec } = setup(t);
  writeSpec(['sh', '-c', 'tty; stty size 2>/dev/null || echo nosize; echo err >&2'], { tty: true });
  const p = await runtime.run(`strata-test-${process.pid}-b`, bundle, {
    tty: true,
    stdin: false,
    size: { height: 33, width: 120 },
  });
  assert.equal(p.stderr, null);
  const [out, code] = await Promise.all([collect(p.stdout), p.exited]);
  assert.equal(code, 0);
  assert.match(out, /^\/dev\/pts\/\d+\r\n/);
  assert.match(out, /err\r\n/);
});

test("a missing executable fails the start with runc's message", async (t) => {
  const { bundle, runtime, writeSpec } = setup(t);
  writeSpec(['nonexist']);
  await assert.rejects(
    runtime.run(`strata-test-${process.pid}-c`, bundle, { tty: false, stdin: false }),
    /OCI runtime create failed: .*exec: "nonexist": executable file not found in \$PATH/,
  );
  assert.deepEqual(await runtime.list(), []);
});

test('exec as another user in another directory; stdin; kill ends the container', async (t) => {
  const { bundle, runtime, writeSpec } = setup(t);
  writeSpec(['sleep', '1000']);
  const id = `strata-test-${process.pid}-d`;
  const init = await runtime.run(id, bundle, { tty: false, stdin: false });
  const proc = buildExecProcess({
    args: ['sh', '-c', 'id; pwd; cat'],
    env: ['PATH=/bin'],
    cwd: '/tmp',
    user: { uid: 65534, gid: 65534 },
    tty: false,
    capabilities: DEFAULT_CAPABILITIES,
  });
  const e = await runtime.exec(id, 'exec1', proc, { tty: false, stdin: true });
  e.stdin!.end('piped\n');
  const [out, code] = await Promise.all([collect(e.stdout), e.exited]);
  assert.equal(code, 0);
  assert.equal(out, 'uid=65534(nobody) gid=65534(nogroup)\n/tmp\npiped\n');
  assert.deepEqual(await runtime.pids(id).then((p) => p.length), 1);
  await runtime.kill(id, 'SIGKILL');
  assert.equal(await init.exited, 137);
  assert.deepEqual(await runtime.list(), []);
});
