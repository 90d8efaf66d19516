// registry-mirrors: a Docker Hub image is pulled from the configured mirror, here a small HTTP
// front of a real registry that answers blob requests with a redirect to the registry itself,
// as mirrors and registries do with their blob storage. Docker Hub is never contacted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import { ok, startDaemon } from '../helpers/daemon.js';
import { makeTar } from '../image/fixture-archive.js';
import { errorOf, freePort, pullImage, putBlob, putManifest, raw, sha256, startRegistry } from './registry.js';

test('a Docker Hub image comes from the registry mirror, blobs through a redirect', async () => {
  const reg = await startRegistry();
  const port = await freePort();
  const seen: string[] = [];
  const mirror = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (/\/blobs\/sha256:/.test(req.url ?? '')) {
      res.writeHead(307, { Location: `http://${reg.addr}${req.url}` });
      res.end();
      return;
    }
    const up = http.request(
      { host: '127.0.0.1', port: reg.port, method: req.method, path: req.url, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    req.pipe(up);
  });
  await new Promise<void>((r) => mirror.listen(port, '127.0.0.1', r));
  const d = await startDaemon(['--registry-mirror', `http://127.0.0.1:${port}`]);
  try {
    const layer = await makeTar([{ name: 'hello.txt', data: 'from the mirror\n' }]);
    const gz = zlib.gzipSync(layer);
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/x'] },
        rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
        history: [{ created_by: 'test' }],
      }),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: {
          mediaType: 'application/vnd.docker.container.image.v1+json',
          size: config.length,
          digest: await putBlob(reg.addr, 'library/mirrored', config),
        },
        layers: [
          {
            mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
            size: gz.length,
            digest: await putBlob(reg.addr, 'library/mirrored', gz),
          },
        ],
      }),
    );
    await putManifest(
      reg.addr,
      'library/mirrored',
      '1',
      'application/vnd.docker.distribution.manifest.v2+json',
      manifest,
    );
    assert.equal(
      (
        await raw(`http://${reg.addr}/v2/library/mirrored/manifests/1`, 'HEAD', {
          Accept: 'application/vnd.docker.distribution.manifest.v2+json',
        })
      ).status,
      200,
    );

    const r = await pullImage(d.socket, 'mirrored', { tag: '1' });
    assert.equal(errorOf(r), undefined, r.text);
    assert.equal(r.messages[0]!.status, 'Pulling from library/mirrored');
    assert.ok(
      r.messages.some((m) => m.status === 'Status: Downloaded newer image for mirrored:1'),
      r.text,
    );
    assert.equal(ok(d.docker(['image', 'inspect', '-f', '{{.Id}}', 'mirrored:1']), 'inspect').trim(), sha256(config));
    assert.ok(
      seen.some((s) => s.startsWith('GET /v2/library/mirrored/manifests/1')),
      'the manifest came through the mirror',
    );
    assert.ok(
      seen.some((s) => s.startsWith(`GET /v2/library/mirrored/blobs/${sha256(gz)}`)),
      'the layer was asked of the mirror and redirected',
    );
  } finally {
    await d.stop();
    mirror.close();
    await reg.stop();
  }
});
