// docker cp through the container filesystem ops, on a container whose root is a directory:
// both directions, compressed bodies, Docker's errors, and symlinks planted in the container
// that point at `/`, up the tree, or straight at a host directory (which must stay untouched).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { PassThrough, Readable } from 'node:stream';
import { extract } from '../../src/archive/tarstream.js';
import {
  copyFromContainer,
  copyToContainer,
  pathStatHeader,
  statContainerPath,
  checkArchivePath,
} from '../../src/container/archive-ops.js';
import { InvalidParameter, NotFound } from '../../src/errors.js';
import { makeTar } from '../archive/helpers.js';
import { fakeEngine, type FakeEngine } from './fake-engine.js';

const opts = { noOverwriteDirNonDir: false, copyUIDGID: false };

/** A container root with a few files and three hostile symlinks, and a victim dir beside it. */
function setup(overrides = {}): FakeEngine & { victim: string } {
  const f = fakeEngine(overrides);
  const r = f.rootfs;
  fs.mkdirSync(path.join(r, 'd/sub'), { recursive: true });
  fs.writeFileSync(path.join(r, 'd/f'), 'hi\n');
  fs.writeFileSync(path.join(r, 'd/sub/g'), 'g\n');
  fs.symlinkSync('/', path.join(r, 'd/root'));
  fs.symlinkSync('../../..', path.join(r, 'd/up'));
  const victim = path.join(f.dir, 'victim');
  fs.mkdirSync(victim);
  fs.writeFileSync(path.join(victim, 'secret'), 'host secret');
  fs.symlinkSync(victim, path.join(r, 'd/host'));
  return { ...f, victim };
}

function victimUntouched(victim: string): void {
  assert.deepEqual(fs.readdirSync(victim), ['secret']);
  assert.equal(fs.readFileSync(path.join(victim, 'secret'), 'utf8'), 'host secret');
}

async function tarNames(
  f: FakeEngine,
  p: string,
): Promise<{ names: string[]; header: string; files: Record<string, string> }> {
  const out = new PassThrough();
  const names: string[] = [];
  const files: Record<string, string> = {};
  let header = '';
  const ex = extract();
  ex.on('entry', (h, stream, next) => {
    names.push(h.name);
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    stream.on('end', () => {
      files[h.name] = Buffer.concat(chunks).toString();
      next();
    });
  });
  const done = new Promise<void>((resolve, reject) => {
    ex.on('finish', () => resolve());
    ex.on('error', reject);
  });
  out.pipe(ex);
  await copyFromContainer(
    f.engine,
    'box',
    p,
    (stat) => {
      header = pathStatHeader(stat);
    },
    out,
  );
  await done;
  return { names, header, files };
}

test('stat: the header JSON Docker sends, and its 404', async () => {
  const f = setup();
  try {
    const stat = await statContainerPath(f.engine, 'box', '/d/f');
    const decoded = JSON.parse(Buffer.from(pathStatHeader(stat), 'base64').toString());
    assert.deepEqual(Object.keys(decoded), ['name', 'size', 'mode', 'mtime', 'linkTarget']);
    assert.equal(decoded.name, 'f');
    assert.equal(decoded.size, 3);
    assert.equal(decoded.mode, 0o644);
    const dir = await statContainerPath(f.engine, 'box', '/d');
    assert.equal(dir.mode, 2 ** 31 + 0o755);
    const link = await statContainerPath(f.engine, 'box', '/d/up');
    assert.equal(link.linkTarget, '/', 'a link climbing out resolves to the container root');
    await assert.rejects(
      statContainerPath(f.engine, 'box', '/nope'),
      (e: unknown) =>
        e instanceof NotFound && (e as Error).message === 'Could not find the file /nope in container box',
    );
    assert.throws(() => checkArchivePath(''), InvalidParameter);
  } finally {
    f.cleanup();
  }
});

test('cp out: a directory, its contents with /., and a file', async () => {
  const f = setup();
  try {
    const dir = await tarNames(f, '/d/sub');
    assert.deepEqual(dir.names.map((n) => n.replace(/\/$/, '')).sort(), ['sub', 'sub/g']);
    assert.equal(dir.files['sub/g'], 'g\n');
    const file = await tarNames(f, '/d/f');
    assert.deepEqual(file.names, ['f']);
    assert.equal(file.files['f'], 'hi\n');
    assert.equal(JSON.parse(Buffer.from(file.header, 'base64').toString()).name, 'f');
    const dot = await tarNames(f, '/d/sub/.');
    assert.ok(
      dot.names.some((n) => n.endsWith('g')),
      `names: ${dot.names}`,
    );
    await assert.rejects(tarNames(f, '/missing'), NotFound);
  } finally {
    f.cleanup();
  }
});

test('cp out never follows a symlink out of the container root', async () => {
  const f = setup();
  try {
    // /d/host points at the victim's absolute host path: inside the container that path does not exist.
    await assert.rejects(tarNames(f, '/d/host/secret'), NotFound);
    // /d/up/… climbs to the container root, not to the host's.
    const viaUp = await tarNames(f, '/d/up/d/f');
    assert.equal(viaUp.files['f'], 'hi\n');
    victimUntouched(f.victim);
  } finally {
    f.cleanup();
  }
});

test('cp in: plain and gzip tars, into a directory', async () => {
  const f = setup();
  try {
    const tar = await makeTar([
      { name: 'new.txt', content: 'new' },
      { name: 'nd', type: 'directory' },
      { name: 'nd/x', content: 'x' },
    ]);
    await copyToContainer(f.engine, 'box', '/d', Readable.from([tar]), opts);
    assert.equal(fs.readFileSync(path.join(f.rootfs, 'd/new.txt'), 'utf8'), 'new');
    assert.equal(fs.readFileSync(path.join(f.rootfs, 'd/nd/x'), 'utf8'), 'x');
    const gz = gzipSync(await makeTar([{ name: 'zipped.txt', content: 'z' }]));
    await copyToContainer(f.engine, 'box', '/d/sub', Readable.from([gz]), opts);
    assert.equal(fs.readFileSync(path.join(f.rootfs, 'd/sub/zipped.txt'), 'utf8'), 'z');
  } finally {
    f.cleanup();
  }
});

test("cp in: Docker's errors", async () => {
  const f = setup();
  try {
    const tar = () => makeTar([{ name: 'x', content: 'x' }]).then((b) => Readable.from([b]));
    await assert.rejects(
      copyToContainer(f.engine, 'box', '/nope', await tar(), opts),
      (e: unknown) =>
        e instanceof NotFound && (e as Error).message === 'Could not find the file /nope in container box',
    );
    await assert.rejects(
      copyToContainer(f.engine, 'box', '/d/f', await tar(), opts),
      (e: unknown) => e instanceof InvalidParameter && (e as Error).message === 'extraction point is not a directory',
    );
  } finally {
    f.cleanup();
  }
});

test('cp in through hostile symlinks lands inside the container root', async () => {
  const f = setup();
  try {
    const tar = () => makeTar([{ name: 'pwn', content: 'pwned' }]).then((b) => Readable.from([b]));
    await copyToContainer(f.engine, 'box', '/d/root', await tar(), opts);
    assert.equal(fs.readFileSync(path.join(f.rootfs, 'pwn'), 'utf8'), 'pwned', 'a link to / means the container root');
    fs.rmSync(path.join(f.rootfs, 'pwn'));
    await copyToContainer(f.engine, 'box', '/d/up', await tar(), opts);
    assert.equal(fs.readFileSync(path.join(f.rootfs, 'pwn'), 'utf8'), 'pwned');
    assert.equal(fs.existsSync(path.join(f.dir, 'pwn')), false);
    // The host path the link names does not exist inside the container.
    await assert.rejects(copyToContainer(f.engine, 'box', '/d/host', await tar(), opts), NotFound);
    // A tar whose entries climb through the planted links.
    const hostile = await makeTar([
      { name: 'up/victim/pwn', content: 'pwned' },
      { name: 'host/pwn', content: 'pwned' },
    ]);
    await copyToContainer(f.engine, 'box', '/d', Readable.from([hostile]), opts).catch(() => undefined);
    victimUntouched(f.victim);
    assert.equal(fs.existsSync(path.join(f.dir, 'victim', 'pwn')), false);
  } finally {
    f.cleanup();
  }
});

test('cp in: read-only rootfs and read-only mounts', async () => {
  const mounts = [
    {
      type: 'volume' as const,
      source: 'v',
      destination: '/data',
      readOnly: false,
      mode: 'z',
      propagation: '',
      origin: 'binds' as const,
    },
    {
      type: 'bind' as const,
      source: '/x',
      destination: '/conf',
      readOnly: true,
      mode: 'ro',
      propagation: 'rprivate',
      origin: 'binds' as const,
    },
  ];
  const f = setup({ hostConfig: { ReadonlyRootfs: true }, mounts });
  try {
    fs.mkdirSync(path.join(f.rootfs, 'data'));
    fs.mkdirSync(path.join(f.rootfs, 'conf'));
    const tar = () => makeTar([{ name: 'x', content: 'x' }]).then((b) => Readable.from([b]));
    await assert.rejects(copyToContainer(f.engine, 'box', '/d', await tar(), opts), {
      message: 'container rootfs is marked read-only',
    });
    await assert.rejects(copyToContainer(f.engine, 'box', '/conf', await tar(), opts), {
      message: 'mounted volume is marked read-only',
    });
    await copyToContainer(f.engine, 'box', '/data', await tar(), opts);
    assert.equal(fs.readFileSync(path.join(f.rootfs, 'data/x'), 'utf8'), 'x');
  } finally {
    f.cleanup();
  }
});

test('cp in with copyUIDGID: owned by the container user from its own /etc/passwd', async () => {
  const f = setup({ config: { User: 'app' } });
  try {
    fs.mkdirSync(path.join(f.rootfs, 'etc'));
    fs.writeFileSync(
      path.join(f.rootfs, 'etc/passwd'),
      'root:x:0:0::/root:/bin/sh\napp:x:1234:4321::/home/app:/bin/sh\n',
    );
    const tar = await makeTar([
      { name: 'owned', content: 'o', uid: 7, gid: 7 },
      { name: 'odir', type: 'directory', uid: 7, gid: 7 },
    ]);
    await copyToContainer(f.engine, 'box', '/d', Readable.from([tar]), {
      noOverwriteDirNonDir: false,
      copyUIDGID: true,
    });
    for (const n of ['owned', 'odir']) {
      const st = fs.lstatSync(path.join(f.rootfs, 'd', n));
      assert.equal(st.uid, 1234);
      assert.equal(st.gid, 4321);
    }
    const plain = await makeTar([{ name: 'kept', content: 'k', uid: 7, gid: 8 }]);
    await copyToContainer(f.engine, 'box', '/d', Readable.from([plain]), opts);
    assert.equal(fs.lstatSync(path.join(f.rootfs, 'd/kept')).uid, 7);
  } finally {
    f.cleanup();
  }
});
