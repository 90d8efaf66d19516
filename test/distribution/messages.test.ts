// Pull, push and login errors word for word as dockerd 20.10 answers them, written down from the
// reference daemon run side by side against the same registries (an open one and one asking
// for basic auth): the HTTP status, the message, and for push the lines the stream carries
// before its error. A pull by digest of an image already present says it is up to date.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ok, startDaemon } from '../helpers/daemon.js';
import { dockerArchive } from '../image/fixture-archive.js';
import { apiStream, errorOf, pullImage, pushImage, startRegistry } from './registry.js';

const ZERO = `sha256:${'0'.repeat(64)}`;

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

test("pull, push and login errors in dockerd 20.10's words and statuses", async () => {
  const d = await startDaemon();
  const open = await startRegistry();
  const locked = await startRegistry({ htpasswd: { user: 'user', password: 'secret' } });
  try {
    fs.writeFileSync(path.join(d.dir, 'img.tar'), (await dockerArchive({ tag: 'fixture:1' })).tar);
    ok(d.docker(['load', '-i', path.join(d.dir, 'img.tar')]), 'load');
    const R = `${open.addr}/team/app`;
    const P = `${locked.addr}/team/app`;
    ok(d.docker(['tag', 'fixture:1', `${R}:a`]), 'tag');
    ok(d.docker(['tag', 'fixture:1', `${P}:a`]), 'tag');
    const pushed = await pushImage(d.socket, R, 'a');
    assert.equal(errorOf(pushed), undefined, pushed.text);
    const digest = pushed.messages.find((m) => m.aux)!.aux.Digest as string;

    const expectPull = async (
      ref: string,
      opts: Parameters<typeof pullImage>[2],
      status: number,
      message: string,
    ): Promise<void> => {
      const r = await pullImage(d.socket, ref, opts);
      assert.equal(r.status, status, `${ref} ${JSON.stringify(opts)}: ${r.text}`);
      assert.equal(errorOf(r), message, `${ref} ${JSON.stringify(opts)}`);
    };
    await expectPull(R, { tag: 'nope' }, 404, `manifest for ${R}:nope not found: manifest unknown: manifest unknown`);
    await expectPull(
      `${open.addr}/team/none`,
      { tag: 'latest' },
      404,
      `manifest for ${open.addr}/team/none:latest not found: manifest unknown: manifest unknown`,
    );
    await expectPull(R, { tag: ZERO }, 404, `manifest for ${R}@${ZERO} not found: manifest unknown: manifest unknown`);
    const wrong = { username: 'user', password: 'wrong' };
    await expectPull(P, { tag: 'a', auth: wrong }, 500, 'unauthorized: authentication required');
    await expectPull(P, { auth: wrong }, 500, 'unauthorized: authentication required');
    await expectPull(
      P,
      { tag: 'a' },
      500,
      `Head "http://${locked.addr}/v2/team/app/manifests/a": no basic auth credentials`,
    );
    await expectPull(P, {}, 500, `Get "http://${locked.addr}/v2/team/app/tags/list": no basic auth credentials`);

    // By digest, twice: the second finds the digest already naming the image.
    const first = await pullImage(d.socket, `${R}@${digest}`);
    assert.equal(errorOf(first), undefined, first.text);
    const second = await pullImage(d.socket, R, { tag: digest });
    assert.deepEqual(second.messages, [
      { status: 'Pulling from team/app', id: `${R}@${digest}` },
      { status: `Digest: ${digest}` },
      { status: `Status: Image is up to date for ${R}@${digest}` },
    ]);

    // Push: the stream starts, then ends with the error.
    const expectPush = async (name: string, tag: string, auth: Record<string, string>, lines: object[]) => {
      const r = await pushImage(d.socket, name, tag, auth);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.messages, lines, `${name}:${tag}`);
    };
    const refers = (name: string) => ({ status: `The push refers to repository [${name}]` });
    const failed = (message: string) => ({ errorDetail: { message }, error: message });
    for (const tag of ['', 'latest'])
      await expectPush(`${open.addr}/team/none`, tag, {}, [
        refers(`${open.addr}/team/none`),
        failed(`An image does not exist locally with the tag: ${open.addr}/team/none`),
      ]);
    await expectPush(R, 'zz', {}, [refers(R), failed(`tag does not exist: ${R}:zz`)]);
    await expectPush(`${R}@${digest}`, '', {}, [refers(R), failed('cannot push a digest reference')]);
    const preparing = ok(d.docker(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', `${P}:a`]), 'inspect');
    const layerLines = (JSON.parse(preparing) as string[])
      .reverse()
      .map((l) => ({ status: 'Preparing', progressDetail: {}, id: l.slice(7, 19) }));
    await expectPush(P, 'a', {}, [refers(P), ...layerLines, failed('no basic auth credentials')]);
    await expectPush(P, 'a', wrong, [refers(P), ...layerLines, failed('unauthorized: authentication required')]);

    // A registry that is down: push names the ping it tried; login the same.
    const port = await closedPort();
    const gone = `127.0.0.1:${port}/team/app`;
    ok(d.docker(['tag', 'fixture:1', `${gone}:a`]), 'tag');
    const refusedDial = `Get "http://127.0.0.1:${port}/v2/": dial tcp 127.0.0.1:${port}: connect: connection refused`;
    await expectPush(gone, 'a', {}, [refers(gone), failed(refusedDial)]);
    const login = (body: object) =>
      apiStream(d.socket, 'POST', '/auth', { 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify(body)));
    const down = await login({ username: 'u', password: 'p', serveraddress: `127.0.0.1:${port}` });
    assert.equal(down.status, 500, down.text);
    assert.equal(down.messages[0]!.message, refusedDial);
    const refused = await login({ username: 'u', password: 'p', serveraddress: locked.addr });
    assert.equal(refused.status, 500, refused.text);
    assert.equal(
      refused.messages[0]!.message,
      `login attempt to http://${locked.addr}/v2/ failed with status: 401 Unauthorized`,
    );
    const good = await login({ username: 'user', password: 'secret', serveraddress: locked.addr });
    assert.deepEqual(good.messages[0], { IdentityToken: '', Status: 'Login Succeeded' });
  } finally {
    await locked.stop();
    await open.stop();
    await d.stop();
  }
});

test('push of a layer whose files were changed under the store names the layer and why', async () => {
  const d = await startDaemon();
  const reg = await startRegistry();
  try {
    const arc = await dockerArchive({ tag: 'tamper:1' });
    fs.writeFileSync(path.join(d.dir, 'img.tar'), arc.tar);
    ok(d.docker(['load', '-i', path.join(d.dir, 'img.tar')]), 'load');
    const R = `${reg.addr}/team/tampered`;
    ok(d.docker(['tag', 'tamper:1', `${R}:a`]), 'tag');
    const data = ok(d.docker(['image', 'inspect', '-f', '{{json .GraphDriver.Data}}', 'tamper:1']), 'inspect');
    const { UpperDir, Dir } = JSON.parse(data) as { UpperDir?: string; Dir?: string };
    const changed = path.join((UpperDir ?? Dir)!, 'etc/new');
    const top = arc.diffIDs[arc.diffIDs.length - 1]!;
    const words =
      'its files in the layer store were modified; pulling or loading the image again may resolve the issue';
    // Another size: refused before its upload starts.
    fs.writeFileSync(changed, 'newer and longer\n');
    assert.equal(
      errorOf(await pushImage(d.socket, R, 'a')),
      `layer does not match its diffID ${top} (etc/new holds 17 bytes, not 4): ${words}`,
    );
    // The same size, other bytes: found by the digest at the end of the upload, and said so.
    fs.writeFileSync(changed, 'NEW\n');
    assert.match(
      errorOf(await pushImage(d.socket, R, 'a')) ?? '',
      new RegExp(`^layer does not match its diffID ${top} \\(its files give sha256:[0-9a-f]{64}\\): ${words}$`),
    );
  } finally {
    await reg.stop();
    await d.stop();
  }
});
