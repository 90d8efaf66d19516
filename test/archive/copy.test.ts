// The docker cp engine: resolution inside a container root never escapes it.
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { extractTo, packPath, statPath } from '../../src/archive/index.js';
import { ModeDir, ModeSymlink } from '../../src/archive/filemode.js';
import { extract } from '../../src/archive/tarstream.js';
import { InvalidParameter, NotFound } from '../../src/errors.js';
import { collect, makeTar, readable, snapshotTree, tempDir } from './helpers.js';

/** A container root beside a host "secret" it must never reach. */
function setup() {
  const t = tempDir('strata-cp-');
  const root = join(t.path, 'root');
  const host = join(t.path, 'host');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'data/sub'), { recursive: true });
  mkdirSync(host);
  writeFileSync(join(host, 'secret'), 'host secret');
  writeFileSync(join(root, 'etc/passwd'), 'container passwd');
  writeFileSync(join(root, 'data/sub/f'), 'f');
  utimesSync(join(root, 'etc/passwd'), 1_600_000_000, 1_600_000_000);
  symlinkSync('/', join(root, 'x'));
  symlinkSync('../../../../..', join(root, 'up'));
  symlinkSync('/etc/passwd', join(root, 'passwd-link'));
  symlinkSync(join(host, 'secret'), join(root, 'hostlink'));
  symlinkSync('/data', join(root, 'datalink'));
  return { t, root, host };
}

async function tarNames(stream: NodeJS.ReadableStream & AsyncIterable<unknown>): Promise<Map<string, string>> {
  const buf = await collect(stream as never);
  const out = new Map<string, string>();
  const ex = extract();
  ex.on('entry', (h, s, next) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    s.on('end', () => {
      out.set(h.name, h.type === 'symlink' ? `-> ${h.linkname}` : Buffer.concat(chunks).toString());
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', () => resolve());
    ex.on('error', reject);
    ex.end(buf);
  });
  return out;
}

test('statPath resolves inside the root and reports Go file modes', async () => {
  const { t, root } = setup();
  try {
    const st = await statPath(root, '/etc/passwd');
    assert.deepEqual(st, { name: 'passwd', size: 16, mode: 0o644, mtime: '2020-09-13T12:26:40Z', linkTarget: '' });
    const dir = await statPath(root, 'data');
    assert.equal(dir.mode, ModeDir + 0o755);
    const link = await statPath(root, '/passwd-link');
    assert.equal(link.mode, ModeSymlink + 0o777);
    assert.equal(link.linkTarget, '/etc/passwd');
    // `/x -> /` and `up -> ../../..` stay at the root.
    assert.equal((await statPath(root, '/x/etc/passwd')).size, 16);
    assert.equal((await statPath(root, '/up/etc/passwd')).size, 16);
    assert.equal((await statPath(root, '/up')).linkTarget, '/');
    // An absolute link to a host path is re-rooted: it names nothing inside.
    assert.equal((await statPath(root, '/hostlink')).mode, ModeSymlink + 0o777);
    await assert.rejects(statPath(root, '/hostlink/'), NotFound);
    await assert.rejects(
      statPath(root, '/nope'),
      (err: unknown) => err instanceof NotFound && /Could not find the file \/nope/.test((err as Error).message),
    );
  } finally {
    t.cleanup();
  }
});

test('packPath archives the target under its requested base name, never the host', async () => {
  const { t, root } = setup();
  try {
    const dir = await packPath(root, '/datalink/');
    const names = await tarNames(dir.stream as never);
    assert.deepEqual([...names.keys()], ['datalink/', 'datalink/sub/', 'datalink/sub/f']);
    const link = await packPath(root, '/passwd-link');
    assert.deepEqual([...(await tarNames(link.stream as never))], [['passwd-link', '-> /etc/passwd']]);
    const up = await packPath(root, '/up/up/etc/passwd');
    assert.deepEqual([...(await tarNames(up.stream as never))], [['passwd', 'container passwd']]);
    await assert.rejects(packPath(root, '/hostlink/'), NotFound);
  } finally {
    t.cleanup();
  }
});

test('extractTo writes into the resolved directory and never outside the root', async () => {
  const { t, root, host } = setup();
  try {
    const hostBefore = snapshotTree(host);
    const tar = await makeTar([
      { name: 'new.txt', content: 'hello' },
      { name: 'link', type: 'symlink', linkname: '../../../../host' },
      { name: 'abs', type: 'symlink', linkname: host },
    ]);
    await extractTo(root, '/x/up/datalink', readable(tar));
    assert.equal(readFileSync(join(root, 'data/new.txt'), 'utf8'), 'hello');
    assert.equal(readlinkSync(join(root, 'data/abs')), host);
    // Writing through what was just extracted is refused, wherever it points.
    for (const name of ['link/secret', 'abs/secret']) {
      const evil = await makeTar([{ name, content: 'pwned' }]);
      await assert.rejects(extractTo(root, '/data', readable(evil)), InvalidParameter);
    }
    const escape = await makeTar([{ name: '../../host/secret', content: 'pwned' }]);
    await assert.rejects(extractTo(root, '/data', readable(escape)), InvalidParameter);
    const hl = await makeTar([{ name: 'hl', type: 'link', linkname: '../etc/passwd' }]);
    await assert.rejects(extractTo(root, '/data', readable(hl)), InvalidParameter);
    // A destination symlink to a host directory is re-rooted, so it does not exist.
    await assert.rejects(extractTo(root, '/hostlink', readable(tar)), NotFound);
    assert.deepEqual(snapshotTree(host), hostBefore);
  } finally {
    t.cleanup();
  }
});

test('extractTo refuses a file destination and dir/non-dir swaps when asked', async () => {
  const { t, root } = setup();
  try {
    const tar = await makeTar([{ name: 'f', content: 'x' }]);
    await assert.rejects(
      extractTo(root, '/etc/passwd', readable(tar)),
      (err: unknown) =>
        err instanceof InvalidParameter && (err as Error).message === 'extraction point is not a directory',
    );
    await assert.rejects(extractTo(root, '/missing', readable(tar)), NotFound);
    const swap = await makeTar([{ name: 'sub', content: 'not a dir' }]);
    await assert.rejects(
      extractTo(root, '/data', readable(swap), { noOverwriteDirNonDir: true }),
      /cannot overwrite directory/,
    );
    assert.ok(lstatSync(join(root, 'data/sub')).isDirectory());
    await extractTo(root, '/data', readable(swap));
    assert.equal(readFileSync(join(root, 'data/sub'), 'utf8'), 'not a dir');
    const owned = await makeTar([{ name: 'owned', content: 'o', uid: 1234, gid: 5678 }]);
    await extractTo(root, '/data', readable(owned), { chown: { uid: 42, gid: 43 } });
    const st = lstatSync(join(root, 'data/owned'));
    assert.deepEqual([st.uid, st.gid], [42, 43]);
  } finally {
    t.cleanup();
  }
});
