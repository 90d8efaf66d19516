// docker push --all-tags and docker pull --all-tags against a real registry: three tags, two of
// them the same layers under different configs and the third sharing its two lower layers; the
// push sends every local tag in sorted order, and the pull reads the tags one page at a time
// (n=1, the next page named by a Link header), pulls them in the registry's order with each blob
// fetched once, and ends with one Status line for the repository, as dockerd 20.10 writes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ok, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { dockerArchive, layeredLayers, makeTar } from '../image/fixture-archive.js';
import { errorOf, pullImage, pushImage, raw, startRegistry } from './registry.js';
import { startPagingProxy } from './paging-proxy.js';

async function load(d: TestDaemon, archive: Buffer, name: string): Promise<void> {
  const file = path.join(d.dir, `${name}.tar`);
  fs.writeFileSync(file, archive);
  ok(d.docker(['load', '-i', file]), 'load');
  fs.rmSync(file);
}

/**
 * The docker CLI run without blocking this process, which serves the proxy the daemon pulls
 * through (d.docker waits synchronously and would starve it).
 */
function dockerAsync(
  d: TestDaemon,
  args: string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { env: { ...process.env, DOCKER_HOST: d.host } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const idOf = (d: TestDaemon, ref: string) => d.docker(['image', 'inspect', '-f', '{{.Id}}', ref]).stdout.trim();

test('push --all-tags sends every local tag sorted; pull --all-tags follows tags/list pages and fetches each blob once', async () => {
  const d = await startDaemon();
  const reg = await startRegistry();
  // The registry's listing shown in an order of its own, which the pull keeps.
  const proxy = await startPagingProxy(reg.addr, (tags) => [...tags].sort().reverse());
  try {
    const [l1, l2] = await layeredLayers();
    const l3b = await makeTar([{ name: 'etc/other', data: 'other\n' }]);
    const images = {
      v1: await dockerArchive({ tag: 'fixture:v1', label: 'one' }),
      v2: await dockerArchive({ tag: 'fixture:v2', label: 'two' }),
      v3: await dockerArchive({ tag: 'fixture:v3', label: 'three', layers: [l1!, l2!, l3b] }),
    };
    assert.notEqual(images.v1.id, images.v2.id);
    assert.equal(images.v1.diffIDs.join(), images.v2.diffIDs.join(), 'v1 and v2 share every layer');
    const pushed = `${reg.addr}/team/app`;
    for (const [tag, img] of Object.entries(images)) {
      await load(d, img.tar, tag);
      ok(d.docker(['tag', `fixture:${tag}`, `${pushed}:${tag}`]), 'tag');
    }

    // No tag: every local tag of the repository, in sorted order.
    const push = await pushImage(d.socket, pushed, '');
    assert.equal(errorOf(push), undefined, push.text);
    assert.equal(push.messages[0]!.status, `The push refers to repository [${pushed}]`);
    const aux = push.messages.filter((m) => m.aux).map((m) => m.aux as { Tag: string; Digest: string; Size: number });
    assert.deepEqual(
      aux.map((a) => a.Tag),
      ['v1', 'v2', 'v3'],
    );
    for (const a of aux)
      assert.ok(push.messages.some((m) => m.status?.startsWith(`${a.Tag}: digest: ${a.Digest} size: `)));
    // v2 after v1: its layers are all in the registry already; v3 only uploads its own.
    assert.equal(push.messages.filter((m) => m.status === 'Pushed').length, 4, push.text);
    assert.equal(push.messages.filter((m) => m.status === 'Layer already exists').length, 5, push.text);
    const listed = JSON.parse((await raw(`http://${reg.addr}/v2/team/app/tags/list`, 'GET')).body.toString()) as {
      tags: string[];
    };
    assert.deepEqual([...listed.tags].sort(), ['v1', 'v2', 'v3']);
    const digestOf = Object.fromEntries(aux.map((a) => [a.Tag, a.Digest]));

    // Pulled through the proxy, whose tags/list pages hold one tag each.
    const pulled = `${proxy.addr}/team/app`;
    const start = proxy.requests.length;
    const all = await pullImage(d.socket, pulled);
    assert.equal(all.status, 200, all.text);
    assert.equal(errorOf(all), undefined, all.text);
    assert.deepEqual(
      proxy.requests.slice(start).filter((r) => r === 'GET /v2/'),
      ['GET /v2/'],
      'one session for the repository: a single ping for the tag list and every tag',
    );
    const pages = proxy.requests.filter((r) => r.startsWith('GET /v2/team/app/tags/list'));
    assert.deepEqual(pages, [
      'GET /v2/team/app/tags/list',
      'GET /v2/team/app/tags/list?n=1&last=v3',
      'GET /v2/team/app/tags/list?n=1&last=v2',
    ]);
    assert.deepEqual(
      all.messages.filter((m) => m.status === 'Pulling from team/app').map((m) => m.id),
      ['v3', 'v2', 'v1'],
      'tags pulled in the order the registry lists them',
    );
    assert.deepEqual(
      all.messages.filter((m) => m.status?.startsWith('Digest: ')).map((m) => m.status),
      ['v3', 'v2', 'v1'].map((t) => `Digest: ${digestOf[t]}`),
    );
    assert.deepEqual(all.messages.at(-1), { status: `Status: Downloaded newer image for ${pulled}` });
    assert.equal(all.messages.filter((m) => m.status?.startsWith('Status: ')).length, 1, all.text);
    for (const [tag, img] of Object.entries(images)) {
      assert.equal(idOf(d, `${pulled}:${tag}`), img.id, `${tag} has the pushed image ID`);
      assert.match(
        ok(d.docker(['image', 'inspect', '-f', '{{json .RepoDigests}}', `${pulled}:${tag}`]), 'inspect'),
        new RegExp(`${pulled}@${digestOf[tag]}`),
      );
    }
    // Every blob of the three manifests fetched once, the shared layers included.
    const blobGets = proxy.requests.filter((r) => /^GET \/v2\/team\/app\/blobs\/sha256:/.test(r));
    assert.equal(new Set(blobGets).size, blobGets.length, `a blob fetched twice:\n${blobGets.join('\n')}`);

    // Again: every tag already names its image.
    const before = proxy.requests.length;
    const again = await pullImage(d.socket, pulled);
    assert.equal(errorOf(again), undefined, again.text);
    assert.deepEqual(again.messages.at(-1), { status: `Status: Image is up to date for ${pulled}` });
    assert.equal(
      proxy.requests.slice(before).filter((r) => r.includes('/blobs/')).length,
      0,
      'nothing downloaded the second time',
    );

    // The docker CLI's --all-tags sends the same requests: the name alone.
    const cli = await dockerAsync(d, ['pull', '--all-tags', pulled]);
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`^v3: Pulling from team/app$`, 'm'));
    assert.match(cli.stdout, new RegExp(`^Status: Image is up to date for ${pulled}$`, 'm'));
    const cliPush = d.docker(['push', '--all-tags', pushed]);
    assert.equal(cliPush.status, 0, cliPush.stderr);
    assert.deepEqual(
      cliPush.stdout.split('\n').filter((l) => /^v\d: digest: /.test(l)),
      ['v1', 'v2', 'v3'].map((t) => `${t}: digest: ${digestOf[t]} size: ${aux.find((a) => a.Tag === t)!.Size}`),
    );

    // A repository the registry does not know: dockerd's words and status.
    const missing = await pullImage(d.socket, `${proxy.addr}/team/none`);
    assert.equal(missing.status, 404, missing.text);
    assert.equal(
      errorOf(missing),
      `repository ${proxy.addr}/team/none not found: name unknown: repository name not known to registry`,
    );
  } finally {
    await proxy.stop();
    await reg.stop();
    await d.stop();
  }
});
