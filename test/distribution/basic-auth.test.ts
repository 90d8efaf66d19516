// A registry asking for basic auth when no credentials were given: dockerd's words, naming the
// manifest request as Go's url.Error does (HEAD for a tag, GET for a digest).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { resolveManifest } from '../../src/distribution/pull.js';
import { repositoryOf } from '../../src/distribution/endpoint.js';

test('a basic-auth registry without credentials: Head/Get "URL": no basic auth credentials', async () => {
  const server = createServer((_req, res) => {
    res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="r"', 'Content-Type': 'application/json' });
    res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const opts = { insecureRegistries: [], mirrors: [], certsDir: '/nonexistent' };
  const repo = repositoryOf(`${host}/some/repo`);
  const digest = `sha256:${'0'.repeat(64)}`;
  try {
    await assert.rejects(resolveManifest(opts, repo, { tag: 'tag' }, null, {}, `${host}/some/repo:tag`), {
      message: `Head "http://${host}/v2/some/repo/manifests/tag": no basic auth credentials`,
    });
    await assert.rejects(resolveManifest(opts, repo, { digest }, null, {}, `${host}/some/repo@${digest}`), {
      message: `Get "http://${host}/v2/some/repo/manifests/${digest}": no basic auth credentials`,
    });
  } finally {
    server.close();
  }
});
