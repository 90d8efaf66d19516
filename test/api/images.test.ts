// The image endpoints driven through the docker CLI against a real daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ok, startDaemon } from '../helpers/daemon.js';
import { dockerArchive, makeTar, ociArchive } from '../image/fixture-archive.js';

// Image ID and chainIDs the reference daemon (Docker 20.10.24) computed for dockerArchive({ tag: 'layered:1' }).
const dockerImageID = 'sha256:660fc4253e8ceccae49a7926396fc0979dfadeeab4d67f27b10e518dcbb1de27';
const dockerTopChainID = 'sha256:b23fb09318f743fc0df27ec9a0c6f096f37045542c0d8f1e213a277b72bbe63b';

/** What keeps layers' bytes: each layer's tar as a blob, or its files plus a tar-split record. */
function layersKept(dataRoot: string): string[] {
  return ['content/blobs/sha256', 'content/tar-split'].flatMap((p) =>
    fs.existsSync(path.join(dataRoot, p)) ? fs.readdirSync(path.join(dataRoot, p)) : [],
  );
}

test('load, inspect, history, tag, save, rmi and prune through the docker CLI', async () => {
  const d = await startDaemon();
  try {
    const file = path.join(d.dir, 'layered.tar');
    fs.writeFileSync(file, (await dockerArchive({ tag: 'layered:1' })).tar);
    assert.equal(ok(d.docker(['load', '-i', file]), 'load'), 'Loaded image: layered:1\n');
    assert.equal(
      ok(d.docker(['image', 'inspect', '-f', '{{.Id}} {{.Size}} {{len .RootFS.Layers}}', 'layered:1']), 'inspect'),
      `${dockerImageID} 31 3\n`,
    );
    // Docker's history for this image: newest first, the ENV row is an empty layer.
    assert.equal(
      ok(d.docker(['history', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}', 'layered:1']), 'history'),
      `${dockerImageID.slice(7, 19)}|layer three|4B|last\n<missing>|ENV nothing|0B|\n<missing>|layer two|4B|\n<missing>|layer one|23B|\n`,
    );

    ok(d.docker(['tag', 'layered:1', 'example.com/team/layered:2']), 'tag');
    // One image under two repositories: the docker CLI groups its rows by repository in a Go map,
    // so their order changes from run to run (against dockerd too); compare them sorted.
    assert.deepEqual(
      ok(d.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']), 'images')
        .split('\n')
        .filter(Boolean)
        .sort(),
      ['example.com/team/layered:2', 'layered:1'],
    );
    const missing = d.docker(['image', 'inspect', 'nope']);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /No such image: nope/);

    // rmi of one of two tags only untags; the ID form with two tags needs force.
    const conflict = d.docker(['rmi', dockerImageID.slice(7, 19)]);
    assert.match(
      conflict.stderr,
      /conflict: unable to delete 660fc4253e8c \(must be forced\) - image is referenced in multiple repositories/,
    );
    assert.equal(
      ok(d.docker(['rmi', 'example.com/team/layered:2']), 'rmi tag'),
      'Untagged: example.com/team/layered:2\n',
    );

    // save → rmi → load gives back the same ID.
    const saved = path.join(d.dir, 'saved.tar');
    ok(d.docker(['save', '-o', saved, 'layered:1']), 'save');
    assert.equal(
      ok(d.docker(['rmi', 'layered:1']), 'rmi'),
      [
        'Untagged: layered:1',
        `Deleted: ${dockerImageID}`,
        `Deleted: ${dockerTopChainID}`,
        'Deleted: sha256:c33631e7e3ff6ea8721ae7a5a625c203f0a507f9c5ffedab2aebc938b30d9dff',
        'Deleted: sha256:7d3eabbb45c99f10032f213c0fbb09f9413103bec0d46097c0182731987f6445',
        '',
      ].join('\n'),
    );
    assert.deepEqual(layersKept(d.dataRoot), [], 'layer blobs and records removed with the last image');
    ok(d.docker(['load', '-i', saved]), 'load saved');
    assert.equal(ok(d.docker(['image', 'inspect', '-f', '{{.Id}}', 'layered:1']), 'inspect'), `${dockerImageID}\n`);

    // OCI layout without a name loads untagged.
    const oci = path.join(d.dir, 'oci.tar');
    fs.writeFileSync(oci, (await ociArchive()).tar);
    ok(d.docker(['rmi', 'layered:1']), 'rmi');
    assert.equal(ok(d.docker(['load', '-i', oci]), 'load oci'), `Loaded image ID: ${dockerImageID}\n`);
    assert.equal(
      ok(d.docker(['images', '--filter', 'dangling=true', '-q']), 'dangling'),
      `${dockerImageID.slice(7, 19)}\n`,
    );

    // import with a message and a tag, then prune: the dangling one goes, -a takes the rest.
    const layer = path.join(d.dir, 'layer.tar');
    fs.writeFileSync(layer, await makeTar([{ name: 'hello', data: 'hi\n' }]));
    const id = ok(d.docker(['import', '-m', 'imported here', layer, 'imported:1']), 'import').trim();
    assert.match(id, /^sha256:[a-f0-9]{64}$/);
    assert.equal(ok(d.docker(['history', '--format', '{{.Comment}}', 'imported:1']), 'history'), 'imported here\n');
    const prune = ok(d.docker(['image', 'prune', '-f']), 'prune');
    assert.match(prune, new RegExp(`deleted: ${dockerImageID}`));
    assert.match(prune, /Total reclaimed space: 31B/);
    assert.match(ok(d.docker(['image', 'prune', '-af']), 'prune -a'), /untagged: imported:1/);
    assert.equal(ok(d.docker(['images', '-aq']), 'images'), '');
    assert.deepEqual(layersKept(d.dataRoot), []);

    // No registry listening: pull answers an error naming the request, as dockerd 20.10 does
    // (checked against it: the /v2/ ping comes first, in Go's dial words).
    const pull = d.docker(['pull', '127.0.0.1:1/nosuchimage:1']);
    assert.notEqual(pull.status, 0);
    assert.equal(
      pull.stderr,
      'Error response from daemon: Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused\n',
    );
    // An image ID names no repository: dockerd 20.10 answers 500 without asking any registry.
    for (const id of ['sha256:' + 'f'.repeat(64), 'f'.repeat(64)]) {
      const res = await d.request('GET', `/distribution/${id}/json`);
      assert.equal(res.status, 500, id);
      assert.equal(JSON.parse(res.body).message, 'no manifest found for full image ID');
    }
  } finally {
    await d.stop();
  }
});

test('image inspect keeps ContainerConfig at every API version (docker-compose 1.29 reads it on recreate)', async () => {
  const d = await startDaemon();
  try {
    const file = path.join(d.dir, 'layered.tar');
    fs.writeFileSync(file, (await dockerArchive({ tag: 'layered:1' })).tar);
    ok(d.docker(['load', '-i', file]), 'load');
    for (const v of ['1.41', '1.45', '1.50']) {
      const res = await d.request('GET', `/v${v}/images/layered:1/json`);
      assert.equal(res.status, 200);
      const body = JSON.parse(res.body) as Record<string, unknown>;
      assert.ok('ContainerConfig' in body && body.ContainerConfig !== undefined, `ContainerConfig at API ${v}`);
    }
  } finally {
    await d.stop();
  }
});

test("rmi refuses an image a container uses, in Docker's words; force deletes the image but keeps the container's layers", async () => {
  const d = await startDaemon();
  try {
    const file = path.join(d.dir, 'layered.tar');
    fs.writeFileSync(file, (await dockerArchive({ tag: 'layered:1' })).tar);
    ok(d.docker(['load', '-i', file]), 'load');
    const cid = ok(d.docker(['create', 'layered:1', 'true']), 'create').trim();
    const short = cid.slice(0, 12);
    assert.equal(
      d.docker(['rmi', 'layered:1']).stderr,
      `Error response from daemon: conflict: unable to remove repository reference "layered:1" (must force) - container ${short} is using its referenced image 660fc4253e8c\n`,
    );
    assert.equal(
      d.docker(['rmi', '660fc4253e8c']).stderr,
      `Error response from daemon: conflict: unable to delete 660fc4253e8c (must be forced) - image is being used by stopped container ${short}\n`,
    );
    assert.equal(
      ok(d.docker(['rmi', '-f', '660fc4253e8c']), 'rmi -f'),
      `Untagged: layered:1\nDeleted: ${dockerImageID}\n`,
    );
    assert.equal(ok(d.docker(['inspect', '-f', '{{.Image}}', cid]), 'inspect container'), `${dockerImageID}\n`);
    assert.equal(layersKept(d.dataRoot).length, 3, 'layers stay while the container needs them');
    ok(d.docker(['rm', cid]), 'rm');
    // Released right after the container's destroy event; poll rather than race it.
    for (let i = 0; i < 100 && layersKept(d.dataRoot).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(layersKept(d.dataRoot), [], 'layers go with the last container built on them');
  } finally {
    await d.stop();
  }
});

// Needs a Docker daemon to compare with: STRATA_REF_DOCKER_HOST=unix:///path/to/docker.sock.
const refHost = process.env.STRATA_REF_DOCKER_HOST;
test(
  "an archive saved by Strata loads into Docker with the same image ID, and Docker's save of it loads back",
  { skip: !refHost && 'STRATA_REF_DOCKER_HOST not set' },
  async () => {
    const d = await startDaemon();
    const ref = (args: string[]) =>
      spawnSync('docker', args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: refHost } });
    const tag = `strata-roundtrip-${process.pid}:1`;
    try {
      const file = path.join(d.dir, 'layered.tar');
      fs.writeFileSync(file, (await dockerArchive({ tag })).tar);
      ok(d.docker(['load', '-i', file]), 'load');
      const saved = path.join(d.dir, 'saved.tar');
      ok(d.docker(['save', '-o', saved, tag]), 'save');
      const loaded = ref(['load', '-i', saved]);
      assert.equal(loaded.status, 0, loaded.stderr);
      assert.equal(ref(['image', 'inspect', '-f', '{{.Id}}', tag]).stdout, `${dockerImageID}\n`);
      const back = path.join(d.dir, 'back.tar');
      assert.equal(ref(['save', '-o', back, tag]).status, 0);
      ok(d.docker(['rmi', tag]), 'rmi');
      ok(d.docker(['load', '-i', back]), "load Docker's save");
      assert.equal(ok(d.docker(['image', 'inspect', '-f', '{{.Id}}', tag]), 'inspect'), `${dockerImageID}\n`);
    } finally {
      ref(['rmi', tag]);
      await d.stop();
    }
  },
);

test('save of a layer whose files were changed under the store: an error answer naming the layer, else a cut stream and the log says why', async () => {
  const d = await startDaemon();
  try {
    const arc = await dockerArchive({ tag: 'tamper:1' });
    const file = path.join(d.dir, 'tamper.tar');
    fs.writeFileSync(file, arc.tar);
    ok(d.docker(['load', '-i', file]), 'load');
    const data = ok(d.docker(['image', 'inspect', '-f', '{{json .GraphDriver.Data}}', 'tamper:1']), 'inspect');
    const { UpperDir, Dir } = JSON.parse(data) as { UpperDir?: string; Dir?: string };
    const changed = path.join((UpperDir ?? Dir)!, 'etc/new');
    const top = arc.diffIDs[arc.diffIDs.length - 1]!;
    const out = path.join(d.dir, 'saved.tar');

    // Another size: known before anything is sent, so the answer is an error (dockerd answers 500 too).
    fs.writeFileSync(changed, 'newer and longer\n');
    const message = `layer does not match its diffID ${top} (etc/new holds 17 bytes, not 4): its files in the layer store were modified; pulling or loading the image again may resolve the issue`;
    const cli = d.docker(['save', '-o', out, 'tamper:1']);
    assert.notEqual(cli.status, 0);
    assert.equal(cli.stderr.trim(), `Error response from daemon: ${message}`);
    assert.ok(!fs.existsSync(out), 'no archive written');
    const before = await d.request('GET', `/images/get?names=tamper:1`);
    assert.equal(before.status, 500);
    assert.deepEqual(JSON.parse(before.body), { message });
    assert.ok(d.log().includes(message), 'the daemon log says which layer and why');

    // The same size, other bytes: only the digest at the layer's end tells, once the stream has begun.
    fs.writeFileSync(changed, 'NEW\n');
    const cut = d.docker(['save', '-o', out, 'tamper:1']);
    assert.notEqual(cut.status, 0, 'the save fails');
    assert.match(
      d.log(),
      new RegExp(`save cut short: layer does not match its diffID ${top} \\(its files give sha256:`),
    );

    // Put back, the layer gives its bytes again.
    fs.writeFileSync(changed, 'new\n');
    ok(d.docker(['save', '-o', out, 'tamper:1']), 'save once restored');
  } finally {
    await d.stop();
  }
});
