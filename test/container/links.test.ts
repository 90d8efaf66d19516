// Legacy links after create, each checked against dockerd 20.10 on its default bridge with the
// same busybox image: the link's name among the linked container's Names, a lookup by it, and
// renames of either end carried into HostConfig.Links, the parent's /etc/hosts and environment.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startDaemon, ok, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:links'));
  assert.equal(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]).status, 0);
});
after(async () => {
  await d?.stop();
});

const inspect = (format: string, ref: string) => ok(d.docker(['inspect', '-f', format, ref]), `inspect ${ref}`).trim();
async function namesOf(id: string): Promise<string[]> {
  const r = await d.request('GET', `/v1.41/containers/json?all=1&filters=${encodeURIComponent(`{"id":["${id}"]}`)}`);
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as { Names: string[] }[])[0]!.Names;
}

test('a linked container is listed and found by the link name; renames of either end follow the link', async () => {
  const childId = ok(d.docker(['run', '-d', '--name', 'child', 'bb:links', 'sleep', '1000']), 'run child').trim();
  ok(d.docker(['run', '-d', '--name', 'parent', '--link', 'child:db', 'bb:links', 'sleep', '1000']), 'run parent');
  try {
    // dockerd 20.10: Names ["/child","/parent/db"]; `docker inspect parent/db` (and /parent/db) is /child.
    assert.deepEqual(await namesOf(childId), ['/child', '/parent/db']);
    assert.equal(inspect('{{.Name}}', 'parent/db'), '/child');
    assert.equal(inspect('{{.Name}}', '/parent/db'), '/child');
    const missing = await d.request('GET', '/v1.41/containers/parent/nosuch/json');
    assert.equal(missing.status, 404, missing.body);
    assert.equal(JSON.parse(missing.body).message, 'No such container: parent/nosuch');

    // dockerd 20.10: after `rename child kid`, HostConfig.Links is ["/kid:/parent/db"].
    ok(d.docker(['rename', 'child', 'kid']), 'rename child');
    assert.equal(inspect('{{json .HostConfig.Links}}', 'parent'), '["/kid:/parent/db"]');
    // dockerd 20.10: after `rename parent par`, ["/kid:/par/db"] and Names ["/kid","/par/db"].
    ok(d.docker(['rename', 'parent', 'par']), 'rename parent');
    assert.equal(inspect('{{json .HostConfig.Links}}', 'par'), '["/kid:/par/db"]');
    assert.deepEqual(await namesOf(childId), ['/kid', '/par/db']);
    assert.equal(inspect('{{.Name}}', 'par/db'), '/kid');

    // dockerd 20.10: the restarted parent's hosts line names the child by its new name, and
    // DB_NAME is /par/db.
    ok(d.docker(['restart', '-t', '0', 'par']), 'restart');
    const ip = inspect('{{.NetworkSettings.IPAddress}}', 'kid');
    const hostname = inspect('{{.Config.Hostname}}', 'kid');
    const seen = ok(d.docker(['exec', 'par', 'sh', '-c', 'cat /etc/hosts; echo $DB_NAME']), 'exec');
    assert.ok(seen.includes(`${ip}\tdb ${hostname} kid\n`), seen);
    assert.match(seen, /\n\/par\/db\n$/);
  } finally {
    d.docker(['rm', '-f', 'par', 'parent', 'kid', 'child']);
  }
});

test('docker inspect of an image whose name has a slash: the container lookup is a 404, so the CLI finds the image', () => {
  // dockerd 20.10: GET /containers/my/bb/json is 404 "No such container: my/bb", then the image answers.
  ok(d.docker(['tag', 'bb:links', 'my/bb']), 'tag');
  const id = inspect('{{.Id}}', 'bb:links');
  assert.equal(inspect('{{.Id}}', 'my/bb'), id);
});
