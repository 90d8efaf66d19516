// Bearer token auth: the registry is configured with `auth: token` and trusts a certificate
// of this test; a small token server checks Basic credentials and signs RS256 JWTs granting the
// requested scope. Push and pull ask it for one token per scope (then reuse it), login checks
// the credentials through it, and anonymous pulls are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createSign, randomBytes, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { ok, startDaemon } from '../helpers/daemon.js';
import { dockerArchive } from '../image/fixture-archive.js';
import { apiStream, errorOf, freePort, pullImage, pushImage, startRegistry } from './registry.js';

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function jwt(key: string, cert: string, claims: Record<string, unknown>): string {
  const der = new X509Certificate(cert).raw;
  const head = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [der.toString('base64')] }));
  const body = b64url(JSON.stringify(claims));
  const sig = createSign('RSA-SHA256').update(`${head}.${body}`).sign(key);
  return `${head}.${body}.${b64url(sig)}`;
}

test('Bearer tokens: scopes, one token per scope reused, login through the token server, anonymous refused', async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-token-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'token.key',
      '-out',
      'token.crt',
      '-days',
      '2',
      '-subj',
      '/CN=token signer',
    ],
    { cwd: work, stdio: 'pipe' },
  );
  const key = fs.readFileSync(path.join(work, 'token.key'), 'utf8');
  const cert = fs.readFileSync(path.join(work, 'token.crt'), 'utf8');
  const requests: { scope: string[]; user?: string }[] = [];
  // While set, a token request is held unanswered: it is settled by the client closing it.
  let hang: ((req: http.IncomingMessage) => void) | undefined;
  const tokenServer = http.createServer((req, res) => {
    if (hang) {
      hang(req);
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const auth = req.headers.authorization;
    let user: string | undefined;
    if (auth?.startsWith('Basic ')) {
      const [u, p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (u !== 'alice' || p !== 'secret') {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end('{"details":"invalid credentials"}');
        return;
      }
      user = u;
    }
    const scope = url.searchParams.getAll('scope');
    requests.push({ scope, user });
    const access = user
      ? scope.map((s) => {
          const [type, name, actions] = s.split(':');
          return { type, name, actions: actions!.split(',') };
        })
      : [];
    const now = Math.floor(Date.now() / 1000);
    const token = jwt(key, cert, {
      iss: 'strata-test',
      sub: user ?? '',
      aud: 'test-registry',
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  const tokenPort = await freePort();
  await new Promise<void>((r) => tokenServer.listen(tokenPort, '127.0.0.1', r));
  const reg = await startRegistry({
    extra: `auth:
  token:
    realm: http://127.0.0.1:${tokenPort}/token
    service: test-registry
    issuer: strata-test
    rootcertbundle: ${path.join(work, 'token.crt')}`,
  });
  const d = await startDaemon();
  try {
    const creds = { username: 'alice', password: 'secret', serveraddress: reg.addr };
    const login = await apiStream(
      d.socket,
      'POST',
      '/auth',
      { 'Content-Type': 'application/json' },
      Buffer.from(JSON.stringify(creds)),
    );
    assert.equal(login.status, 200, login.text);
    assert.deepEqual(login.messages[0], { IdentityToken: '', Status: 'Login Succeeded' });
    const bad = await apiStream(
      d.socket,
      'POST',
      '/auth',
      { 'Content-Type': 'application/json' },
      Buffer.from(JSON.stringify({ ...creds, password: 'wrong' })),
    );
    assert.equal(bad.status, 500, 'dockerd 20.10 answers a refused login with a 500');
    assert.equal(
      bad.messages[0]?.message,
      `login attempt to http://${reg.addr}/v2/ failed with status: 401 Unauthorized`,
    );

    fs.writeFileSync(path.join(work, 'img.tar'), (await dockerArchive({ tag: 'layered:1' })).tar);
    ok(d.docker(['load', '-i', path.join(work, 'img.tar')]), 'load');
    const name = `${reg.addr}/team/tok`;
    ok(d.docker(['tag', 'layered:1', `${name}:1`]), 'tag');

    requests.length = 0;
    const pushed = await pushImage(d.socket, name, '1', creds);
    assert.equal(errorOf(pushed), undefined, pushed.text);
    assert.deepEqual(
      requests,
      [{ scope: ['repository:team/tok:pull,push'], user: 'alice' }],
      'one token for the whole push',
    );
    const again = await pushImage(d.socket, name, '1', creds);
    assert.equal(errorOf(again), undefined, again.text);
    assert.equal(requests.length, 1, 'the cached token served the second push');

    ok(d.docker(['rmi', `${name}:1`, 'layered:1']), 'rmi');
    const anonymous = await pullImage(d.socket, name, { tag: '1' });
    assert.match(errorOf(anonymous) ?? '', /pull access denied|unauthorized|denied/, anonymous.text);
    const pulled = await pullImage(d.socket, name, { tag: '1', auth: creds });
    assert.equal(errorOf(pulled), undefined, pulled.text);
    assert.ok(
      requests.some((r) => r.user === 'alice' && r.scope.join() === 'repository:team/tok:pull'),
      'the pull asked for pull only',
    );
    assert.equal(
      ok(d.docker(['image', 'inspect', '-f', '{{.Id}}', `${name}:1`]), 'inspect').trim(),
      (await dockerArchive({ tag: 'layered:1' })).id,
    );

    // A pull whose client goes away while its token is being fetched stops asking for it.
    const held = new Promise<http.IncomingMessage>((resolve) => (hang = resolve));
    const client = http.request({
      socketPath: d.socket,
      method: 'POST',
      path: `/images/create?fromImage=${encodeURIComponent(`${reg.addr}/team/other`)}&tag=1`,
      headers: { 'X-Registry-Auth': Buffer.from(JSON.stringify(creds)).toString('base64url') },
    });
    client.on('error', () => {});
    client.end();
    const tokenReq = await held;
    const closed = new Promise<void>((resolve) => tokenReq.socket.once('close', () => resolve()));
    client.destroy();
    const outcome = await Promise.race([
      closed.then(() => 'closed'),
      new Promise((r) => setTimeout(() => r('still open after 10 s'), 10_000)),
    ]);
    assert.equal(outcome, 'closed', 'the token request ends with the pull');
    hang = undefined;
  } finally {
    await d.stop();
    await reg.stop();
    tokenServer.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
});
