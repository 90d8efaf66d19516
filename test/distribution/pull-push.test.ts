// Push and pull against a real registry (docker-registry on loopback): the round trip keeps
// the image ID and the manifest digest, a second push sends nothing, two pulls at once fetch
// each blob once, a blob corrupted in the registry's storage is refused with nothing kept, and
// a connection cut in the middle of a blob is resumed with a Range request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ok, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { dockerArchive, layeredConfig, makeTar } from '../image/fixture-archive.js';
import { errorOf, freePort, pullImage, pushImage, raw, sha256, startRegistry } from './registry.js';

async function load(d: TestDaemon, archive: Buffer): Promise<void> {
  const file = path.join(d.dir, `load-${randomBytes(4).toString('hex')}.tar`);
  fs.writeFileSync(file, archive);
  ok(d.docker(['load', '-i', file]), 'load');
  fs.rmSync(file);
}

const idOf = (d: TestDaemon, ref: string) => d.docker(['image', 'inspect', '-f', '{{.Id}}', ref]).stdout.trim();
const statuses = (r: { messages: Record<string, any>[] }, s: string) => r.messages.filter((m) => m.status === s).length;

/** Every file under a directory, relative, sorted (what a failed pull must not change). */
function tree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

test('push then pull through a registry keeps the image ID and manifest digest; a second push sends nothing; two pulls at once fetch each blob once', async () => {
  const d = await startDaemon();
  const reg = await startRegistry();
  try {
    const { id } = await dockerArchive({ tag: 'layered:1' });
    await load(d, (await dockerArchive({ tag: 'layered:1' })).tar);
    const name = `${reg.addr}/team/layered`;
    ok(d.docker(['tag', 'layered:1', `${name}:1`]), 'tag');

    const first = await pushImage(d.socket, name, '1');
    assert.equal(errorOf(first), undefined, first.text);
    assert.equal(first.messages[0]!.status, `The push refers to repository [${name}]`);
    assert.equal(statuses(first, 'Pushed'), 3, first.text);
    const aux = first.messages.find((m) => m.aux)!.aux as { Tag: string; Digest: string; Size: number };
    assert.equal(aux.Tag, '1');
    const stored = await raw(`http://${reg.addr}/v2/team/layered/manifests/1`, 'GET', {
      Accept: 'application/vnd.docker.distribution.manifest.v2+json',
    });
    assert.equal(sha256(stored.body), aux.Digest, 'the registry holds the manifest the push reported');
    assert.equal(stored.body.length, aux.Size);
    assert.ok(first.messages.some((m) => m.status === `1: digest: ${aux.Digest} size: ${aux.Size}`));

    const again = await pushImage(d.socket, name, '1');
    assert.equal(statuses(again, 'Layer already exists'), 3, again.text);
    assert.equal(statuses(again, 'Pushed'), 0);

    ok(d.docker(['rmi', `${name}:1`, 'layered:1']), 'rmi');
    assert.notEqual(d.docker(['image', 'inspect', `${name}:1`]).status, 0);
    const pulled = await pullImage(d.socket, name, { tag: '1' });
    assert.equal(errorOf(pulled), undefined, pulled.text);
    assert.equal(pulled.messages[0]!.status, 'Pulling from team/layered');
    assert.equal(statuses(pulled, 'Pull complete'), 3, pulled.text);
    // Each layer as dockerd shows it: downloaded, then extracted to its last byte, then complete.
    for (const layerId of new Set(pulled.messages.filter((m) => m.status === 'Pull complete').map((m) => m.id))) {
      const seq = pulled.messages.filter((m) => m.id === layerId).map((m) => m.status as string);
      const extracting = pulled.messages.filter((m) => m.id === layerId && m.status === 'Extracting');
      assert.ok(extracting.length > 0, `no Extracting for ${layerId}: ${seq.join(', ')}`);
      assert.ok(seq.indexOf('Download complete') < seq.indexOf('Extracting'), seq.join(', '));
      assert.ok(seq.lastIndexOf('Extracting') < seq.indexOf('Pull complete'), seq.join(', '));
      const last = extracting.at(-1)!.progressDetail as { current: number; total: number };
      assert.equal(last.current, last.total, `${layerId} extracted to its last byte`);
    }
    assert.ok(pulled.messages.some((m) => m.status === `Digest: ${aux.Digest}`));
    assert.ok(pulled.messages.some((m) => m.status === `Status: Downloaded newer image for ${name}:1`));
    assert.equal(idOf(d, `${name}:1`), id, 'the pulled image has the pushed image ID');
    assert.match(
      ok(d.docker(['image', 'inspect', '-f', '{{json .RepoDigests}}', `${name}:1`]), 'inspect'),
      new RegExp(`${name}@${aux.Digest}`),
    );

    const upToDate = await pullImage(d.socket, name, { tag: '1' });
    assert.ok(
      upToDate.messages.some((m) => m.status === `Status: Image is up to date for ${name}:1`),
      upToDate.text,
    );

    // Pulled and pushed again under another tag: the same blobs, so the same manifest digest.
    const repush = await pushImage(d.socket, name, '1');
    assert.equal(repush.messages.find((m) => m.aux)?.aux.Digest, aux.Digest);

    // Two pulls at once (by digest and by tag) share each download.
    ok(d.docker(['rmi', `${name}:1`]), 'rmi');
    const manifest = JSON.parse(stored.body.toString()) as { layers: { digest: string }[] };
    const [a, b] = await Promise.all([
      pullImage(d.socket, name, { tag: '1' }),
      pullImage(d.socket, `${name}@${aux.Digest}`),
    ]);
    assert.equal(errorOf(a), undefined, a.text);
    assert.equal(errorOf(b), undefined, b.text);
    assert.equal(idOf(d, `${name}@${aux.Digest}`), id);
    const log = reg.log();
    for (const l of manifest.layers) {
      const gets = log.split('\n').filter((line) => line.includes(`"GET /v2/team/layered/blobs/${l.digest}`)).length;
      assert.equal(
        gets,
        2,
        `blob ${l.digest} fetched once by the first round trip's pull and once by the two pulls at once`,
      );
    }
    assert.deepEqual(
      tree(path.join(d.dataRoot, 'tmp')).filter((f) => f.startsWith('pull/')),
      [],
      'no download left in tmp/pull',
    );
  } finally {
    await reg.stop();
    await d.stop();
  }
});

test('a blob corrupted in the registry is refused and nothing of the pull is kept', async () => {
  const d = await startDaemon();
  const reg = await startRegistry();
  try {
    await load(d, (await dockerArchive({ tag: 'layered:1' })).tar);
    const name = `${reg.addr}/team/corrupt`;
    ok(d.docker(['tag', 'layered:1', `${name}:1`]), 'tag');
    const pushed = await pushImage(d.socket, name, '1');
    assert.equal(errorOf(pushed), undefined, pushed.text);
    ok(d.docker(['rmi', `${name}:1`, 'layered:1']), 'rmi');

    const manifest = JSON.parse(
      (
        await raw(`http://${reg.addr}/v2/team/corrupt/manifests/1`, 'GET', {
          Accept: 'application/vnd.docker.distribution.manifest.v2+json',
        })
      ).body.toString(),
    ) as { layers: { digest: string }[] };
    // The top layer (fetched ahead into a file: the two below it are applied before it is found
    // bad), then the base layer (applied straight from the socket as it arrives).
    for (const index of [2, 0]) {
      const victim = manifest.layers[index]!.digest.slice(7);
      const file = path.join(reg.root, 'docker/registry/v2/blobs/sha256', victim.slice(0, 2), victim, 'data');
      const good = fs.readFileSync(file);
      const bytes = Buffer.from(good);
      bytes[bytes.length - 3] ^= 0xff;
      fs.writeFileSync(file, bytes);

      const before = {
        content: tree(path.join(d.dataRoot, 'content')),
        snapshots: tree(path.join(d.dataRoot, 'snapshots')),
      };
      const r = await pullImage(d.socket, name, { tag: '1' });
      assert.match(
        errorOf(r) ?? '',
        new RegExp(`filesystem layer verification failed for digest sha256:${victim}`),
        r.text,
      );
      assert.notEqual(d.docker(['image', 'inspect', `${name}:1`]).status, 0, 'no image');
      assert.deepEqual(tree(path.join(d.dataRoot, 'content')), before.content, 'no blob kept');
      assert.deepEqual(tree(path.join(d.dataRoot, 'snapshots')), before.snapshots, 'no layer kept');
      assert.deepEqual(tree(path.join(d.dataRoot, 'tmp/pull')), [], 'no download kept');
      fs.writeFileSync(file, good);
    }
    const r = await pullImage(d.socket, name, { tag: '1' });
    assert.equal(errorOf(r), undefined, 'the repaired registry serves the image');
  } finally {
    await reg.stop();
    await d.stop();
  }
});

test('a connection dropped in the middle of a blob is resumed with a Range request', async () => {
  const d = await startDaemon();
  const reg = await startRegistry();
  const port = await freePort();
  let cut = false;
  let rangeSeen = '';
  const proxy = net.createServer((client) => {
    const server = net.connect(reg.port, '127.0.0.1');
    let down = 0;
    client.on('data', (c: Buffer) => {
      const m = /\r\nRange: (bytes=\d+-)/i.exec(c.toString('latin1'));
      if (m) rangeSeen = m[1]!;
      server.write(c);
    });
    server.on('data', (c: Buffer) => {
      down += c.length;
      if (!cut && down > 300_000) {
        // Half of what was sent so far reaches the client, then the connection dies.
        cut = true;
        client.write(c.subarray(0, c.length >> 1), () => {
          client.destroy();
          server.destroy();
        });
        return;
      }
      client.write(c);
    });
    const close = () => {
      client.destroy();
      server.destroy();
    };
    client.on('error', close);
    server.on('error', close);
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => proxy.listen(port, '127.0.0.1', r));
  try {
    const big = await makeTar([{ name: 'big.bin', data: randomBytes(1 << 20) }]);
    const config = layeredConfig([sha256(big)], 'big');
    const archive = await dockerArchive({ tag: 'big:1', layers: [big], config });
    await load(d, archive.tar);
    const direct = `${reg.addr}/team/big`;
    ok(d.docker(['tag', 'big:1', `${direct}:1`]), 'tag');
    assert.equal(errorOf(await pushImage(d.socket, direct, '1')), undefined);
    ok(d.docker(['rmi', `${direct}:1`, 'big:1']), 'rmi');

    const viaProxy = `127.0.0.1:${port}/team/big`;
    const r = await pullImage(d.socket, viaProxy, { tag: '1' });
    assert.equal(errorOf(r), undefined, r.text);
    assert.ok(cut, 'the proxy cut a transfer');
    assert.match(rangeSeen, /^bytes=[1-9]\d*-$/, 'the download resumed from where it stopped');
    assert.equal(idOf(d, `${viaProxy}:1`), archive.id);
  } finally {
    proxy.close();
    await reg.stop();
    await d.stop();
  }
});
