// --init: the init binary runs as PID 1 with the command under it, bound read-only at
// /sbin/docker-init; inspect keeps the user's command; daemon.json's `init` makes it the
// default (--init=false still opts out) and `init-path` picks the binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ok, startDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

const pid1 = 'cat /proc/1/cmdline; echo; echo "me=$$"';

test('--init runs docker-init as PID 1 in front of the command', async () => {
  const d = await startDaemon();
  try {
    fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:test'));
    ok(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]), 'load');
    const out = ok(d.docker(['run', '--name', 'ini', '--init', 'bb:test', 'sh', '-c', pid1]), 'run --init');
    assert.equal(out.split('\n')[0], ['/sbin/docker-init', '--', 'sh', '-c', pid1, ''].join('\0'));
    assert.notEqual(out.split('\n')[1], 'me=1', 'the command is not PID 1');
    assert.equal(ok(d.docker(['inspect', '-f', '{{.Path}} {{.HostConfig.Init}}', 'ini']), 'inspect'), 'sh true\n');
    const ro = d.docker(['run', '--rm', '--init', 'bb:test', 'sh', '-c', 'echo x > /sbin/docker-init']);
    assert.notEqual(ro.status, 0, 'the init binary is read-only');
    const plain = ok(d.docker(['run', '--rm', 'bb:test', 'sh', '-c', pid1]), 'run');
    assert.equal(plain.split('\n')[1], 'me=1', 'without --init the command is PID 1');
  } finally {
    await d.stop();
  }
});

test('daemon.json init and init-path: the default, the binary, and --init=false', async () => {
  const conf = fs.mkdtempSync('/tmp/strata-init-conf-');
  const tini = ['/usr/bin/tini-static', '/usr/bin/docker-init'].find((p) => fs.existsSync(p))!;
  fs.writeFileSync(path.join(conf, 'daemon.json'), JSON.stringify({ init: true, 'init-path': tini }));
  const d = await startDaemon(['--config-file', path.join(conf, 'daemon.json')]);
  try {
    fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:test'));
    ok(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]), 'load');
    assert.match(
      ok(d.docker(['run', '--rm', 'bb:test', 'sh', '-c', pid1]), 'run').split('\n')[0]!,
      /^\/sbin\/docker-init\0--\0sh/,
    );
    assert.equal(
      ok(d.docker(['run', '--rm', '--init=false', 'bb:test', 'sh', '-c', pid1]), 'run').split('\n')[1],
      'me=1',
    );
  } finally {
    await d.stop();
    fs.rmSync(conf, { recursive: true, force: true });
  }
});
