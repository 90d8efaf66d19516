// docker cp, diff, export and commit through the docker CLI against a real daemon, on a created
// (never started) container: the writable layer is mounted for cp and read as a snapshot for
// diff, export and commit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ok, startDaemon, mountsUnder } from '../helpers/daemon.js';
import { dockerArchive, makeTar } from '../image/fixture-archive.js';

test('docker cp both ways, diff, export and commit', async () => {
  const d = await startDaemon();
  try {
    const image = path.join(d.dir, 'layered.tar');
    fs.writeFileSync(image, (await dockerArchive({ tag: 'layered:1' })).tar);
    ok(d.docker(['load', '-i', image]), 'load');
    ok(d.docker(['create', '--name', 'box', 'layered:1']), 'create');

    // In and out, file and directory contents.
    const host = path.join(d.dir, 'host');
    fs.mkdirSync(host);
    fs.writeFileSync(path.join(host, 'in.txt'), 'from the host\n');
    ok(d.docker(['cp', path.join(host, 'in.txt'), 'box:/etc/']), 'cp in');
    ok(d.docker(['cp', 'box:/etc/in.txt', path.join(host, 'back.txt')]), 'cp out');
    assert.equal(fs.readFileSync(path.join(host, 'back.txt'), 'utf8'), 'from the host\n');
    const out = path.join(host, 'etc-out');
    ok(d.docker(['cp', 'box:/etc/.', out]), 'cp out dir/.');
    const listed = fs.readdirSync(out);
    assert.ok(listed.includes('in.txt') && listed.includes('new'), `listed: ${listed}`);
    assert.ok(!listed.includes('hello'), 'the opaque /etc of the top layer hides the lower one');
    const missing = d.docker(['cp', 'box:/nope', host]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /Could not find the file \/nope in container box/);

    // Hostile symlinks planted in the container (a tar on stdin), then used as cp targets.
    const victim = path.join(d.dir, 'victim');
    fs.mkdirSync(victim);
    fs.writeFileSync(path.join(victim, 'secret'), 'host secret');
    const links = await makeTar([
      { name: 'up', type: 'symlink', linkname: '../../../../../..' },
      { name: 'root', type: 'symlink', linkname: '/' },
      { name: 'hostlink', type: 'symlink', linkname: victim },
    ]);
    const stdinTar = spawnSync('docker', ['cp', '-', 'box:/'], {
      input: links,
      env: { ...process.env, DOCKER_HOST: d.host },
    });
    assert.equal(stdinTar.status, 0, String(stdinTar.stderr));
    fs.writeFileSync(path.join(host, 'pwn'), 'pwned');
    ok(d.docker(['cp', path.join(host, 'pwn'), 'box:/up/']), 'cp through ../ link');
    ok(d.docker(['cp', path.join(host, 'pwn'), 'box:/root/etc/']), 'cp through / link');
    const viaHost = d.docker(['cp', path.join(host, 'pwn'), 'box:/hostlink/']);
    assert.notEqual(viaHost.status, 0, 'a link to a host path names nothing inside the container');
    const secretOut = d.docker(['cp', 'box:/hostlink/secret', host]);
    assert.notEqual(secretOut.status, 0);
    assert.deepEqual(fs.readdirSync(victim), ['secret']);
    assert.equal(fs.readFileSync(path.join(victim, 'secret'), 'utf8'), 'host secret');
    assert.equal(fs.existsSync(path.join(d.dir, 'pwn')), false);
    assert.equal(fs.existsSync('/pwn'), false);

    // diff: what the writable layer holds.
    const diff = ok(d.docker(['diff', 'box']), 'diff')
      .trim()
      .split('\n')
      .sort();
    for (const line of ['A /etc/in.txt', 'A /pwn', 'A /etc/pwn', 'A /up', 'A /root', 'A /hostlink', 'C /etc']) {
      assert.ok(diff.includes(line), `${line} missing from diff: ${diff.join(', ')}`);
    }

    // export: image and writable layer, whiteouts applied.
    const exported = spawnSync('docker', ['export', 'box'], {
      env: { ...process.env, DOCKER_HOST: d.host },
      maxBuffer: 64 << 20,
    });
    assert.equal(exported.status, 0, String(exported.stderr));
    const listing = spawnSync('tar', ['-t'], { input: exported.stdout, encoding: 'utf8' }).stdout.split('\n');
    for (const name of ['etc/new', 'etc/in.txt', 'b.txt', 'pwn'])
      assert.ok(listing.includes(name), `${name} missing from export`);
    assert.ok(!listing.includes('a.txt'), 'a whited-out file is not exported');
    assert.ok(!listing.includes('etc/hello'), 'an opaque directory hides the lower content');

    // commit: one more layer and one more history row.
    const id = ok(d.docker(['commit', '-c', 'ENV X=1', '-m', 'snap', 'box', 'committed:1']), 'commit').trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(
      ok(
        d.docker(['image', 'inspect', '-f', '{{len .RootFS.Layers}} {{json .Config.Env}} {{.Comment}}', 'committed:1']),
        'inspect',
      ).trim(),
      '4 ["PATH=/usr/bin:/bin","X=1"] snap',
    );
    const history = ok(d.docker(['history', '--format', '{{.CreatedBy}}|{{.Comment}}', 'committed:1']), 'history')
      .trim()
      .split('\n');
    assert.equal(history.length, 5);
    assert.equal(history[0], 'sh|snap');
    const bad = d.docker(['commit', '-c', 'RUN x', 'box']);
    assert.match(bad.stderr, /run is not a valid change command/);

    ok(d.docker(['rm', 'box']), 'rm');
    assert.deepEqual(mountsUnder(d.dir), []);
  } finally {
    await d.stop();
  }
});
