// The registry client's small parts, against the values dockerd and the registries produce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChallenges } from '../../src/distribution/auth.js';
import { decodeRegistryAuth } from '../../src/api/registry-auth.js';
import { endpointsFor, isInsecure, registryOfServerAddress } from '../../src/distribution/endpoint.js';
import { chooseManifest, parseManifest, parsePlatform } from '../../src/distribution/manifest.js';
import { progressReporter, progressText, type ProgressMessage } from '../../src/distribution/progress.js';

const opts = {
  insecureRegistries: ['10.1.0.0/16', 'reg.example:5000'],
  mirrors: ['https://mirror.example'],
  certsDir: '/nonexistent',
};

test('progress text as dockerd writes it', () => {
  // Captured from Docker 20.10's push of the same sizes.
  assert.equal(progressText(35328, 1985761), '[>                                                  ]  35.33kB/1.986MB');
  assert.equal(progressText(461312, 1985761), '[===========>                                       ]  461.3kB/1.986MB');
  assert.equal(progressText(512, 7), '[==================================================>]     512B');
  assert.equal(
    progressText(3073120, 3073120),
    '[==================================================>]  3.073MB/3.073MB',
  );
});

test('progress is sent as dockerd sends it: every 512 KiB at most every 100 ms, and the last byte', () => {
  const sent: ProgressMessage[] = [];
  let clock = 0;
  const total = 64 << 20;
  const report = progressReporter(
    (m) => sent.push(m),
    'abc',
    'Downloading',
    total,
    () => clock,
  );
  // 64 KiB reads, 1 ms apart: 1024 reads over about a second.
  for (let n = 64 << 10; n <= total; n += 64 << 10) {
    clock += 1;
    report(n);
  }
  const currents = sent.map((m) => (m.progressDetail as { current: number }).current);
  // One a tenth of a second (the first at once), plus the last byte's.
  assert.ok(currents.length >= 10 && currents.length <= 12, `${currents.length} messages`);
  assert.equal(currents[0], 64 << 10);
  assert.equal(currents.at(-1), total);
  assert.equal(sent.at(-1)!.progress, progressText(total, total));
  assert.equal(sent.at(-1)!.id, 'abc');

  // Slow bytes: a message every 512 KiB, not every read.
  const slow: ProgressMessage[] = [];
  const report2 = progressReporter(
    (m) => slow.push(m),
    'abc',
    'Extracting',
    total,
    () => (clock += 1000),
  );
  for (let n = 64 << 10; n <= 4 << 20; n += 64 << 10) report2(n);
  assert.deepEqual(
    slow.map((m) => (m.progressDetail as { current: number }).current),
    [64 << 10, 640 << 10, 1216 << 10, 1792 << 10, 2368 << 10, 2944 << 10, 3520 << 10, 4096 << 10],
  );
});

test('challenges, X-Registry-Auth and login addresses', () => {
  assert.deepEqual(
    parseChallenges(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
    ),
    [
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/busybox:pull',
        },
      },
    ],
  );
  assert.deepEqual(parseChallenges('Basic realm="lab-realm"'), [{ scheme: 'basic', params: { realm: 'lab-realm' } }]);
  const header = Buffer.from(JSON.stringify({ username: 'u', password: 'p?>', serveraddress: 'r:5000' })).toString(
    'base64url',
  );
  assert.deepEqual(decodeRegistryAuth(header), {
    username: 'u',
    password: 'p?>',
    serveraddress: 'r:5000',
    identitytoken: undefined,
    registrytoken: undefined,
  });
  assert.deepEqual(decodeRegistryAuth(Buffer.from('{}').toString('base64')), {
    username: undefined,
    password: undefined,
    serveraddress: undefined,
    identitytoken: undefined,
    registrytoken: undefined,
  });
  assert.throws(() => decodeRegistryAuth('bm90IGpzb24'), /invalid X-Registry-Auth header/);
  assert.equal(registryOfServerAddress('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(registryOfServerAddress('127.0.0.1:5000'), '127.0.0.1:5000');
});

test('loopback and configured registries are insecure; mirrors come first for Docker Hub only', () => {
  for (const r of ['localhost:5000', '127.0.0.1:5000', '127.8.9.1', '[::1]:5000', 'reg.example:5000', '10.1.2.3:443'])
    assert.ok(isInsecure(r, opts), r);
  for (const r of ['reg.example', '10.2.0.1:5000', 'registry-1.docker.io', 'docker.io'])
    assert.ok(!isInsecure(r, opts), r);
  assert.deepEqual(
    endpointsFor('docker.io', opts).map((e) => [e.url.origin, e.mirror]),
    [
      ['https://mirror.example', true],
      ['https://registry-1.docker.io', false],
    ],
  );
  assert.deepEqual(
    endpointsFor('127.0.0.1:5000', opts).map((e) => [e.url.origin, e.plainHttpFallback]),
    [['https://127.0.0.1:5000', true]],
  );
});

test("platform choice in a list, and Docker's error when none fits", () => {
  const list = parseManifest(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
        manifests: [
          {
            mediaType: 'x',
            digest: `sha256:${'a'.repeat(64)}`,
            size: 1,
            platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
          },
          {
            mediaType: 'x',
            digest: `sha256:${'b'.repeat(64)}`,
            size: 1,
            platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
          },
          {
            mediaType: 'x',
            digest: `sha256:${'c'.repeat(64)}`,
            size: 1,
            platform: { os: 'linux', architecture: 'amd64' },
          },
        ],
      }),
    ),
    undefined,
  );
  assert.equal(list.kind, 'index');
  if (list.kind !== 'index') return;
  assert.equal(chooseManifest(list, parsePlatform('linux/amd64')).digest, `sha256:${'c'.repeat(64)}`);
  assert.equal(chooseManifest(list, parsePlatform('linux/arm64')).digest, `sha256:${'b'.repeat(64)}`);
  assert.equal(chooseManifest(list, parsePlatform('linux/arm/v7')).digest, `sha256:${'a'.repeat(64)}`);
  assert.throws(
    () => chooseManifest(list, parsePlatform('linux/s390x')),
    /^NotFound: no matching manifest for linux\/s390x in the manifest list entries$/,
  );
  assert.throws(
    () => parseManifest(Buffer.from('{"schemaVersion":1,"fsLayers":[]}'), undefined),
    /schema 1 is no longer supported/,
  );
});
