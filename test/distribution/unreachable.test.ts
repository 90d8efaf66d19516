// A pull from a registry that cannot be reached answers as dockerd 20.10 does, checked side by
// side: a 500 naming the /v2/ ping it tried first and Go's dial error, over plain HTTP for a
// loopback registry (insecure, so HTTPS failed first) and HTTPS for a name that does not resolve.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns';
import net from 'node:net';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
});
after(async () => {
  await d?.stop();
});

/** A loopback port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

test("connection refused: 500 and Go's words, as dockerd answers", async () => {
  const port = await closedPort();
  const r = await d.request('POST', `/v1.41/images/create?fromImage=127.0.0.1:${port}/foo&tag=latest`);
  // dockerd 20.10 (port 1): 500 {"message":"Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused"}
  assert.equal(r.status, 500, r.body);
  assert.equal(
    JSON.parse(r.body).message,
    `Get "http://127.0.0.1:${port}/v2/": dial tcp 127.0.0.1:${port}: connect: connection refused`,
  );
  const cli = d.docker(['pull', `127.0.0.1:${port}/foo`]);
  assert.notEqual(cli.status, 0);
  assert.match(cli.stderr, /^Error response from daemon: Get "http:\/\/127\.0\.0\.1:\d+\/v2\/": dial tcp /m);
});

test('a name that does not resolve: 500 naming the lookup and the server asked', async () => {
  const r = await d.request('POST', '/v1.41/images/create?fromImage=nosuchhost.invalid/foo&tag=latest');
  // dockerd 20.10: 500 {"message":"Get \"https://nosuchhost.invalid/v2/\": dial tcp: lookup
  // nosuchhost.invalid on 10.255.255.53:53: no such host"} (the host's resolv.conf server).
  assert.equal(r.status, 500, r.body);
  assert.equal(
    JSON.parse(r.body).message,
    `Get "https://nosuchhost.invalid/v2/": dial tcp: lookup nosuchhost.invalid on ${dns.getServers()[0]}:53: no such host`,
  );
});
