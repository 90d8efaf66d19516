// Two pulls at once of two different images that share their lower layers, from a real
// registry: each shared blob is fetched once (the second pull waits on the first's download or
// application instead of fetching it again), counted at a proxy in front of the registry, which
// holds the layers until both pulls have looked for them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ok, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { dockerArchive, layeredLayers, makeTar } from '../image/fixture-archive.js';
import { randomBytes } from 'node:crypto';
import { errorOf, pullImage, pushImage, startRegistry } from './registry.js';
import { startPagingProxy } from './paging-proxy.js';

async function load(d: TestDaemon, archive: Buffer): Promise<void> {
  const file = path.join(d.dir, 'img.tar');
  fs.writeFileSync(file, archive);
  ok(d.docker(['load', '-i', file]), 'load');
  fs.rmSync(file);
}

test('two pulls at once of images sharing layers fetch each shared blob once', async () => {
  const d = await startDaemon();
  const reg = await startRegistry();
  // The layers' blobs are held until both pulls have fetched their configs: each has then
  // looked for the shared layers before either could store them.
  const configIDs: string[] = [];
  const configsFetched = new Set<string>();
  let release!: () => void;
  const configs = new Promise<void>((resolve) => (release = resolve));
  const proxy = await startPagingProxy(
    reg.addr,
    (tags) => tags,
    (line) => {
      const blob = /^GET \/v2\/team\/shared\/blobs\/(sha256:[0-9a-f]{64})$/.exec(line)?.[1];
      if (!blob) return undefined;
      if (!configIDs.includes(blob)) return configs;
      configsFetched.add(blob);
      if (configsFetched.size === configIDs.length) release();
      return undefined;
    },
  );
  try {
    // A lower layer of some size (incompressible), and one of the fixture's.
    const big = await makeTar([{ name: 'big.bin', data: randomBytes(2 << 20) }]);
    const [, l2] = await layeredLayers();
    const top1 = await makeTar([{ name: 'one', data: 'one\n' }]);
    const top2 = await makeTar([{ name: 'two', data: 'two\n' }]);
    const one = await dockerArchive({ tag: 'fixture:one', label: 'one', layers: [big, l2!, top1] });
    const two = await dockerArchive({ tag: 'fixture:two', label: 'two', layers: [big, l2!, top2] });
    const pushed = `${reg.addr}/team/shared`;
    for (const [tag, img] of [
      ['one', one],
      ['two', two],
    ] as const) {
      await load(d, img.tar);
      ok(d.docker(['tag', `fixture:${tag}`, `${pushed}:${tag}`]), 'tag');
      assert.equal(errorOf(await pushImage(d.socket, pushed, tag)), undefined);
      ok(d.docker(['rmi', `fixture:${tag}`, `${pushed}:${tag}`]), 'rmi');
    }

    configIDs.push(one.id, two.id);
    const pulled = `${proxy.addr}/team/shared`;
    const [a, b] = await Promise.all([
      pullImage(d.socket, pulled, { tag: 'one' }),
      pullImage(d.socket, pulled, { tag: 'two' }),
    ]);
    assert.equal(errorOf(a), undefined, a.text);
    assert.equal(errorOf(b), undefined, b.text);
    assert.equal(d.docker(['image', 'inspect', '-f', '{{.Id}}', `${pulled}:one`]).stdout.trim(), one.id);
    assert.equal(d.docker(['image', 'inspect', '-f', '{{.Id}}', `${pulled}:two`]).stdout.trim(), two.id);
    // Both found the shared layers missing, so the second shared the first's fetch.
    for (const r of [a, b]) {
      assert.equal(r.messages.filter((m) => m.status === 'Already exists').length, 0, r.text);
      assert.equal(r.messages.filter((m) => m.status === 'Pulling fs layer').length, 3, r.text);
    }
    const blobGets = proxy.requests.filter((r) => /^GET \/v2\/team\/shared\/blobs\/sha256:/.test(r));
    // Two configs, two top layers, and the two shared layers once each.
    assert.equal(blobGets.length, 6, blobGets.join('\n'));
    assert.equal(new Set(blobGets).size, 6, `a blob fetched twice:\n${blobGets.join('\n')}`);
  } finally {
    await proxy.stop();
    await reg.stop();
    await d.stop();
  }
});
