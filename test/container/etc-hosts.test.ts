// /etc/hosts and the hostname on the predefined none and host networks, each checked against
// dockerd 20.10 on the same busybox image: no line for the container itself on either, the
// --add-host entries after the defaults, and on the host's network the host's own file and name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:hosts'));
  assert.equal(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]).status, 0);
});
after(async () => {
  await d?.stop();
});

const run = (args: string[], script: string) => {
  const r = d.docker(['run', '--rm', ...args, 'bb:hosts', 'sh', '-c', script]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
};

const DEFAULTS =
  '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n' +
  'ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';

test('--network none: the defaults and the --add-host entries, no 127.0.1.1 line', () => {
  // dockerd 20.10 prints exactly DEFAULTS, with or without --hostname/--domainname.
  assert.equal(run(['--network', 'none'], 'cat /etc/hosts'), DEFAULTS);
  assert.equal(run(['--network', 'none', '--hostname', 'foo', '--domainname', 'ex.com'], 'cat /etc/hosts'), DEFAULTS);
  assert.equal(run(['--network', 'none', '--add-host', 'a:1.2.3.4'], 'cat /etc/hosts'), `${DEFAULTS}1.2.3.4\ta\n`);
  assert.equal(run(['--network', 'none', '--hostname', 'hh'], 'hostname; cat /etc/hostname'), 'hh\nhh\n');
});

test("--network host: the host's /etc/hosts and hostname; with --add-host the defaults and the entries", () => {
  // dockerd 20.10: a copy of the host's /etc/hosts, and Config.Hostname is the host's name at create.
  assert.equal(run(['--network', 'host'], 'cat /etc/hosts'), fs.readFileSync('/etc/hosts', 'utf8'));
  assert.equal(run(['--network', 'host'], 'hostname; cat /etc/hostname'), `${os.hostname()}\n${os.hostname()}\n`);
  const c = d.docker(['create', '--name', 'onhost', '--network', 'host', 'bb:hosts', 'true']);
  assert.equal(c.status, 0, c.stderr);
  assert.equal(d.docker(['inspect', '-f', '{{.Config.Hostname}}', 'onhost']).stdout.trim(), os.hostname());
  assert.equal(d.docker(['rm', 'onhost']).status, 0);
  // dockerd 20.10 with --add-host writes its defaults and the entry, no line for the container.
  assert.equal(run(['--network', 'host', '--add-host', 'a:1.2.3.4'], 'cat /etc/hosts'), `${DEFAULTS}1.2.3.4\ta\n`);
  assert.equal(run(['--network', 'host', '--hostname', 'x'], 'hostname'), 'x\n');
});
