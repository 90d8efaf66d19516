// What the docker CLI pulls on its own against a real registry: `docker run`/`docker create`
// with --pull never (create's 404 No such image, nothing fetched), missing (the local image, or a
// pull when there is none) and always (a newer push under the same tag is picked up), and
// docker-compose pull fetching every service's image from the registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ok, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from '../container/busybox-image.js';
import { errorOf, pushImage, startRegistry } from './registry.js';

async function load(d: TestDaemon, archive: Buffer): Promise<string> {
  const file = path.join(d.dir, 'img.tar');
  fs.writeFileSync(file, archive);
  const out = ok(d.docker(['load', '-i', file]), 'load');
  fs.rmSync(file);
  return out;
}

const idOf = (d: TestDaemon, ref: string) => d.docker(['image', 'inspect', '-f', '{{.Id}}', ref]).stdout.trim();

test('docker run/create --pull never|missing|always and docker-compose pull against a registry', async () => {
  const reg = await startRegistry();
  const d = await startDaemon();
  try {
    const repo = `${reg.addr}/base/bb`;
    const ref = `${repo}:1`;
    const printVersion = ['sh', '-c', 'echo $VERSION'];
    await load(d, await busyboxArchive(ref, { Env: ['PATH=/bin', 'VERSION=1'] }));
    const v1 = idOf(d, ref);
    assert.equal(errorOf(await pushImage(d.socket, repo, '1')), undefined);
    ok(d.docker(['rmi', ref]), 'rmi');

    // never: create's own 404, in dockerd's words, and no pull.
    const logBefore = reg.log().length;
    const never = d.docker(['run', '--rm', '--pull', 'never', ref, ...printVersion]);
    assert.equal(never.status, 125, never.stderr);
    assert.match(never.stderr, new RegExp(`Error response from daemon: No such image: ${ref}`));
    const createNever = d.docker(['create', '--pull', 'never', ref]);
    assert.notEqual(createNever.status, 0);
    assert.match(createNever.stderr, new RegExp(`Error response from daemon: No such image: ${ref}`));
    assert.doesNotMatch(reg.log().slice(logBefore), /\/v2\/base\/bb\/manifests/, 'never asks the registry');

    // missing, with no local image: pulled, then run.
    const missing = d.docker(['run', '--rm', '--pull', 'missing', ref, ...printVersion]);
    assert.equal(missing.status, 0, missing.stderr);
    assert.equal(missing.stdout, '1\n');
    assert.match(missing.stderr, new RegExp(`Unable to find image '${ref}' locally`));
    assert.match(missing.stderr, new RegExp(`Status: Downloaded newer image for ${ref}`));

    // A newer image pushed under the same tag, while the engine keeps the old one under it.
    await load(d, await busyboxArchive(ref, { Env: ['PATH=/bin', 'VERSION=2'] }));
    const v2 = idOf(d, ref);
    assert.notEqual(v2, v1);
    assert.equal(errorOf(await pushImage(d.socket, repo, '1')), undefined);
    ok(d.docker(['tag', v1, ref]), 'tag back');
    ok(d.docker(['rmi', v2]), 'rmi the newer image');

    const kept = d.docker(['run', '--rm', '--pull', 'missing', ref, ...printVersion]);
    assert.equal(kept.status, 0, kept.stderr);
    assert.equal(kept.stdout, '1\n', 'missing runs the local image');
    assert.doesNotMatch(kept.stderr, /Pulling from/);

    const always = d.docker(['run', '--rm', '--pull', 'always', ref, ...printVersion]);
    assert.equal(always.status, 0, always.stderr);
    assert.equal(always.stdout, '2\n', 'always runs the newer push');
    assert.match(always.stdout + always.stderr, new RegExp(`Status: Downloaded newer image for ${ref}`));
    assert.equal(idOf(d, ref), v2);

    // create --pull always, the tag moved back to the old image first.
    ok(d.docker(['tag', v1, ref]), 'tag back');
    const created = ok(d.docker(['create', '--pull', 'always', '--name', 'pulled', ref, ...printVersion]), 'create');
    assert.match(created, /^[0-9a-f]{64}$/m);
    assert.equal(ok(d.docker(['inspect', '-f', '{{.Image}}', 'pulled']), 'inspect').trim(), v2);
    assert.equal(ok(d.docker(['start', '-a', 'pulled']), 'start'), '2\n');
    ok(d.docker(['rm', 'pulled']), 'rm');

    // docker-compose pull: every service's image from the registry.
    await load(d, await busyboxArchive(`${reg.addr}/base/other:7`, { Env: ['PATH=/bin', 'VERSION=7'] }));
    const other = idOf(d, `${reg.addr}/base/other:7`);
    assert.equal(errorOf(await pushImage(d.socket, `${reg.addr}/base/other`, '7')), undefined);
    ok(d.docker(['rmi', ref, `${reg.addr}/base/other:7`]), 'rmi');
    const project = path.join(d.dir, 'compose');
    fs.mkdirSync(project);
    fs.writeFileSync(
      path.join(project, 'docker-compose.yml'),
      `version: "3"\nservices:\n  one:\n    image: ${ref}\n  two:\n    image: ${reg.addr}/base/other:7\n`,
    );
    const compose = spawnSync('docker-compose', ['--project-directory', project, '-p', 'pulltest', 'pull'], {
      cwd: project,
      encoding: 'utf8',
      env: { ...process.env, DOCKER_HOST: d.host },
      timeout: 120_000,
    });
    assert.equal(compose.status, 0, compose.stdout + compose.stderr);
    assert.equal(idOf(d, ref), v2);
    assert.equal(idOf(d, `${reg.addr}/base/other:7`), other);
  } finally {
    await d.stop();
    await reg.stop();
  }
});
