// Where a registry redirects a request (blob GETs go to storage elsewhere), the registry's
// credentials stay with the registry, as Docker's client drops them on a redirect to another
// host; and a redirect is followed over HTTP(S) only, never to a local file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { send, readBody } from '../../src/distribution/http-client.js';

async function serve(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test('a redirect to another host does not carry the Authorization header; one to the same host does', async () => {
  const seen: Record<string, string | undefined> = {};
  const storage = await serve((req, res) => {
    seen[`storage${req.url}`] = req.headers.authorization;
    res.end('blob');
  });
  const registry = await serve((req, res) => {
    seen[`registry${req.url}`] = req.headers.authorization;
    if (req.url === '/v2/x/blobs/away') res.writeHead(307, { Location: `${storage.url}/signed` }).end();
    else if (req.url === '/v2/x/blobs/here') res.writeHead(302, { Location: '/v2/x/blobs/final' }).end();
    else res.end('blob');
  });
  try {
    const headers = { Authorization: 'Bearer registry-token' };
    for (const p of ['away', 'here']) {
      const res = await send(new URL(`${registry.url}/v2/x/blobs/${p}`), { method: 'GET', headers });
      assert.equal((await readBody(res)).toString(), 'blob');
    }
    assert.deepEqual(seen, {
      'registry/v2/x/blobs/away': 'Bearer registry-token',
      'storage/signed': undefined,
      'registry/v2/x/blobs/here': 'Bearer registry-token',
      'registry/v2/x/blobs/final': 'Bearer registry-token',
    });
  } finally {
    await registry.close();
    await storage.close();
  }
});

test('a redirect to a file: URL is refused, reading nothing', async () => {
  const registry = await serve((_req, res) => res.writeHead(302, { Location: 'file:///etc/passwd' }).end());
  try {
    await assert.rejects(send(new URL(`${registry.url}/v2/x/blobs/y`), { method: 'GET' }), /file:/);
  } finally {
    await registry.close();
  }
});
