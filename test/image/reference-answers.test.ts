// Bad image references and platforms on every endpoint that takes one (tag, create, pull,
// import, build -t / --platform), answered with dockerd's status and words. Each expectation
// was checked against dockerd 20.10 on the same requests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from '../container/busybox-image.js';
import { makeTar } from './fixture-archive.js';
import { parseNormalizedNamed } from '../../src/image/reference.js';
import { formatPlatform, hostArchitecture, parsePlatformSpecifier, platformMatches } from '../../src/image/platform.js';

const HEX64 = '0123456789012345678901234567890123456789012345678901234567890123';

test('reference grammar as dockerd 20.10 vendors it', () => {
  assert.throws(() => parseNormalizedNamed('UPPER/x'), {
    message: 'invalid reference format: repository name must be lowercase',
  });
  assert.throws(() => parseNormalizedNamed('a'.repeat(256)), {
    message: 'repository name must not be more than 255 characters',
  });
  assert.equal(parseNormalizedNamed('Registry.io/x').name, 'Registry.io/x', 'a dotted first component is a registry');
});

test('platform specifiers parse and compare as containerd 1.4 does', () => {
  assert.deepEqual(parsePlatformSpecifier('Linux/AMD64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatformSpecifier('linux/aarch64/v8'), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(parsePlatformSpecifier('armhf'), { os: 'linux', architecture: 'arm' });
  assert.deepEqual(parsePlatformSpecifier('linux/arm/7'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.equal(parsePlatformSpecifier('windows').os, 'windows');
  assert.equal(formatPlatform(parsePlatformSpecifier('macos/arm64')), 'darwin/arm64');
  assert.throws(() => parsePlatformSpecifier('linux/*'), {
    message: '"linux/*": wildcards not yet supported: invalid argument',
  });
  assert.ok(platformMatches(parsePlatformSpecifier('linux/amd64/v9'), { os: 'linux', architecture: 'amd64' }));
  assert.ok(!platformMatches(parsePlatformSpecifier('linux/arm64'), { os: 'linux', architecture: 'amd64' }));
  assert.ok(platformMatches(parsePlatformSpecifier('linux/arm'), { os: 'linux', architecture: 'arm', variant: 'v7' }));
});

let d: TestDaemon;
let ctxTar: Buffer;
let fileTar: Buffer;
before(async () => {
  d = await startDaemon();
  const r = spawnSync('docker', ['load'], {
    input: await busyboxArchive('busybox:latest'),
    env: { ...process.env, DOCKER_HOST: d.host },
  });
  assert.equal(r.status, 0, String(r.stderr));
  ctxTar = await makeTar([{ name: 'Dockerfile', data: 'FROM busybox\nRUN true\n' }]);
  fileTar = await makeTar([{ name: 'f', data: 'hi\n' }]);
});
after(async () => {
  const imgs = d.docker(['images', '-q', '--filter', 'dangling=true']).stdout.split('\n').filter(Boolean);
  if (imgs.length) d.docker(['rmi', '-f', ...imgs]);
  d.docker(['rmi', '-f', 'imp:latest', 'foo:BAD']);
  await d.stop();
});

async function raw(method: string, url: string, body?: Buffer | object): Promise<{ status: number; message?: string }> {
  const r = Buffer.isBuffer(body) ? await rawTar(url, body) : await d.request(method, url, body);
  let message: string | undefined;
  try {
    message = (JSON.parse(r.body) as { message?: string }).message;
  } catch {
    /* a stream */
  }
  return { status: r.status, message };
}

async function rawTar(url: string, body: Buffer): Promise<{ status: number; body: string }> {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: d.socket, method: 'POST', path: url, headers: { 'Content-Type': 'application/x-tar' } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const e = encodeURIComponent;
const tag = (repo: string, t = '') =>
  raw('POST', `/v1.41/images/busybox/tag?repo=${e(repo)}${t ? `&tag=${e(t)}` : ''}`);
const create = (image: string, platform = '') =>
  raw('POST', `/v1.41/containers/create${platform ? `?platform=${e(platform)}` : ''}`, { Image: image, Cmd: ['true'] });
const pull = (image: string, t = '', platform = '') =>
  raw(
    'POST',
    `/v1.41/images/create?fromImage=${e(image)}${t ? `&tag=${e(t)}` : ''}${platform ? `&platform=${e(platform)}` : ''}`,
  );
const importAs = (repo: string, t = '', platform = '') =>
  raw(
    'POST',
    `/v1.41/images/create?fromSrc=-&repo=${e(repo)}${t ? `&tag=${e(t)}` : ''}${platform ? `&platform=${e(platform)}` : ''}`,
    fileTar,
  );
const build = (t: string, platform = '') =>
  raw('POST', `/v1.41/build?${t ? `t=${e(t)}` : ''}${platform ? `&platform=${e(platform)}` : ''}`, ctxTar);

test("malformed names: dockerd's words; 500 from tag and build, 400 from create, pull and import", async () => {
  const cases: [string, string][] = [
    ['Busybox', 'invalid reference format: repository name must be lowercase'],
    ['UPPER/x', 'invalid reference format: repository name must be lowercase'],
    ['bad:tag:x', 'invalid reference format'],
    ['busybox:-bad', 'invalid reference format'],
    ['a//b', 'invalid reference format'],
    ['busybox@sha256:abc', 'invalid reference format'],
    ['a'.repeat(256), 'repository name must not be more than 255 characters'],
    [`x/${'b'.repeat(130)}:${'t'.repeat(129)}`, 'invalid reference format'],
  ];
  for (const [ref, message] of cases) {
    assert.deepEqual(await tag(ref), { status: 500, message }, `tag ${ref}`);
    assert.deepEqual(await create(ref), { status: 400, message }, `create ${ref}`);
    assert.deepEqual(await pull(ref), { status: 400, message }, `pull ${ref}`);
    assert.deepEqual(await importAs(ref), { status: 400, message }, `import ${ref}`);
    assert.deepEqual(await build(ref), { status: 500, message }, `build -t ${ref}`);
  }
  const hexName = `invalid repository name (${HEX64}), cannot specify 64-byte hexadecimal strings`;
  assert.deepEqual(await tag(HEX64), { status: 500, message: hexName });
  assert.deepEqual(await pull(HEX64), { status: 400, message: hexName });
  assert.deepEqual(await importAs(HEX64), { status: 400, message: hexName });
  assert.deepEqual(await create(HEX64), { status: 404, message: `No such image: sha256:${HEX64}` });
  const ambiguous = 'refusing to create an ambiguous tag using digest algorithm as name';
  assert.deepEqual(await tag(`sha256:${HEX64}`), { status: 400, message: ambiguous });
  assert.deepEqual(await importAs(`sha256:${HEX64}`), { status: 400, message: ambiguous });
  assert.equal(d.docker(['images', '-q', 'sha256']).stdout, '', 'no such tag was made');
});

test('a bad tag given apart from the name is an invalid tag format', async () => {
  for (const t of ['-x', 'a:b', 't'.repeat(129)]) {
    assert.deepEqual(await tag('foo', t), { status: 500, message: 'invalid tag format' });
    assert.deepEqual(await pull('foo', t), { status: 400, message: 'invalid tag format' });
    assert.deepEqual(await importAs('foo', t), { status: 400, message: 'invalid tag format' });
  }
  assert.equal((await tag('foo', 'BAD')).status, 201, 'a tag may have capitals');
  assert.equal((await importAs('imp', '', 'linux/arm64')).status, 200, 'import keeps only the OS of a platform');
});

test("platforms: dockerd's parse errors everywhere, non-Linux refused by import, a mismatch is create's 404", async () => {
  const parseErrors: [string, string][] = [
    ['invalid', '"invalid": unknown operating system or architecture: invalid argument'],
    [
      '/amd64',
      '"" is an invalid component of "/amd64": platform specifier component must match "^[A-Za-z0-9_-]+$": invalid argument',
    ],
    ['a/b/c/d', '"a/b/c/d": cannot parse platform specifier: invalid argument'],
  ];
  for (const [p, message] of parseErrors) {
    assert.deepEqual(await create('busybox', p), { status: 400, message }, `create ${p}`);
    assert.deepEqual(await pull('busybox', 'latest', p), { status: 400, message }, `pull ${p}`);
    assert.deepEqual(await importAs('imp', '', p), { status: 400, message }, `import ${p}`);
    assert.deepEqual(await build('', p), { status: 400, message }, `build ${p}`);
  }
  for (const p of ['windows', 'darwin/arm64'])
    assert.deepEqual(await importAs('imp', '', p), { status: 400, message: 'operating system is not supported' });
  const mismatch: [string, string][] = [
    ['windows', `windows/${hostArchitecture()}`],
    [
      hostArchitecture() === 'arm64' ? 'linux/amd64' : 'linux/arm64',
      hostArchitecture() === 'arm64' ? 'linux/amd64' : 'linux/arm64',
    ],
    ['linux/bogus', 'linux/bogus'],
  ];
  for (const [p, wanted] of mismatch)
    assert.deepEqual(await create('busybox', p), {
      status: 404,
      message: `image with reference busybox was found but does not match the specified platform: wanted ${wanted}, actual: linux/${hostArchitecture()}`,
    });
  for (const p of [`Linux/${hostArchitecture().toUpperCase()}`, 'linux', `linux/${hostArchitecture()}/v9`]) {
    const r = await create('busybox', p);
    assert.equal(r.status, 201, p);
  }
  assert.equal(
    (await build('', 'windows')).status,
    200,
    'the classic builder builds for this machine whatever it is asked',
  );
});
