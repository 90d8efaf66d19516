// --rm (HostConfig.AutoRemove) around stop, kill, start and restart, each checked against dockerd
// 20.10 on the same busybox image: a stopped one is gone when stop returns, a killed one is refused
// a new start and then removed, a restarted one is kept, and an ordinary container can be started
// again as soon as it is stopped or killed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:autorm'));
  assert.equal(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]).status, 0);
});
after(async () => {
  await d?.stop();
});

const inspectStatus = async (name: string) => (await d.request('GET', `/v1.41/containers/${name}/json`)).status;
const stateOf = (name: string) =>
  d.docker(['inspect', '-f', '{{.State.Status}} {{.HostConfig.AutoRemove}}', name]).stdout.trim();

/** Waits (without a deadline of its own: the test's timeout bounds it) until `name` is gone. */
async function gone(name: string): Promise<void> {
  while ((await inspectStatus(name)) !== 404) await new Promise((r) => setTimeout(r, 50));
}

test('docker run --rm -d, then docker stop: gone when stop returns', async () => {
  assert.equal(
    d.docker(['run', '--rm', '-d', '--network', 'none', '--name', 'rm-stop', 'bb:autorm', 'sleep', '1000']).status,
    0,
  );
  // dockerd 20.10: stop answers 204 and inspect then says 404 (its removal runs as the exit is handled).
  const stop = await d.request('POST', '/v1.41/containers/rm-stop/stop?t=1');
  assert.equal(stop.status, 204, stop.body);
  assert.equal(await inspectStatus('rm-stop'), 404);
});

test(
  'docker create --rm, start, kill: a new start is refused, then the container is removed',
  { timeout: 60_000 },
  async () => {
    assert.equal(
      d.docker(['create', '--rm', '--network', 'none', '--name', 'rm-kill', 'bb:autorm', 'sleep', '1000']).status,
      0,
    );
    assert.equal(d.docker(['start', 'rm-kill']).status, 0);
    assert.equal((await d.request('POST', '/v1.41/containers/rm-kill/kill')).status, 204);
    // dockerd 20.10: 409 {"message":"container is marked for removal and cannot be started"}, or 404
    // once the removal is over; never a start.
    const again = await d.request('POST', '/v1.41/containers/rm-kill/start');
    if (again.status === 409) {
      assert.equal(JSON.parse(again.body).message, 'container is marked for removal and cannot be started');
    } else {
      assert.equal(again.status, 404, again.body);
      assert.equal(JSON.parse(again.body).message, 'No such container: rm-kill');
    }
    await gone('rm-kill');
  },
);

test('docker restart keeps an --rm container (running, AutoRemove still set); its next stop removes it', async () => {
  assert.equal(
    d.docker(['run', '--rm', '-d', '--network', 'none', '--name', 'rm-restart', 'bb:autorm', 'sleep', '1000']).status,
    0,
  );
  // dockerd 20.10: restart 204, then `running true`.
  const r = await d.request('POST', '/v1.41/containers/rm-restart/restart?t=0');
  assert.equal(r.status, 204, r.body);
  assert.equal(stateOf('rm-restart'), 'running true');
  assert.equal(d.docker(['exec', 'rm-restart', 'true']).status, 0);
  assert.equal(d.docker(['stop', '-t', '0', 'rm-restart']).status, 0);
  assert.equal(await inspectStatus('rm-restart'), 404);
  // A created --rm container restarted is started; killed, it goes.
  assert.equal(
    d.docker(['create', '--rm', '--network', 'none', '--name', 'rm-created', 'bb:autorm', 'sleep', '1000']).status,
    0,
  );
  assert.equal(d.docker(['restart', '-t', '0', 'rm-created']).status, 0);
  assert.equal(stateOf('rm-created'), 'running true');
  assert.equal(d.docker(['kill', 'rm-created']).status, 0);
  await gone('rm-created');
});

test('an ordinary container starts again right after kill or stop', () => {
  assert.equal(d.docker(['run', '-d', '--network', 'none', '--name', 'again', 'bb:autorm', 'sleep', '1000']).status, 0);
  try {
    // dockerd 20.10 starts it each time.
    for (const halt of [['kill'], ['stop', '-t', '0']]) {
      assert.equal(d.docker([...halt, 'again']).status, 0);
      const st = d.docker(['start', 'again']);
      assert.equal(st.status, 0, st.stderr);
      assert.equal(stateOf('again'), 'running false');
    }
  } finally {
    d.docker(['rm', '-f', 'again']);
  }
});
