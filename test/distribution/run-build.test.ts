// What the docker CLI does with an absent image: `docker run` gets create's 404 `No such image`,
// pulls and creates again; `docker build` whose FROM image is absent has the daemon pull it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ok, startDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from '../container/busybox-image.js';
import { errorOf, pushImage, startRegistry } from './registry.js';

test('docker run and docker build pull an absent image', async () => {
  const reg = await startRegistry();
  const d = await startDaemon();
  try {
    const ref = `${reg.addr}/base/busybox:1`;
    fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive(ref));
    ok(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]), 'load');
    assert.equal(errorOf(await pushImage(d.socket, `${reg.addr}/base/busybox`, '1')), undefined);
    ok(d.docker(['rmi', ref]), 'rmi');

    const run = d.docker(['run', '--rm', ref, 'cat', '/data/seed.txt']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'seeded\n');
    assert.match(run.stderr, new RegExp(`Unable to find image '${ref}' locally`));
    assert.match(run.stderr, /Pull complete/);

    ok(d.docker(['rmi', ref]), 'rmi');
    fs.mkdirSync(path.join(d.dir, 'ctx'));
    fs.writeFileSync(path.join(d.dir, 'ctx/Dockerfile'), `FROM ${ref}\nRUN echo built > /built\n`);
    const build = d.docker(['build', '-t', 'pulled-base:1', path.join(d.dir, 'ctx')]);
    assert.equal(build.status, 0, build.stdout + build.stderr);
    assert.match(build.stdout, /Pulling from base\/busybox/);
    assert.match(build.stdout, /Successfully tagged pulled-base:1/);
    assert.equal(ok(d.docker(['run', '--rm', 'pulled-base:1', 'cat', '/built']), 'run built'), 'built\n');
  } finally {
    await d.stop();
    await reg.stop();
  }
});
