// Vectors for the mount parser. Expected values are what Docker 20.10 answers for the same
// HostConfig (inspect Mounts: Type/Source/Destination/Mode/RW/Propagation; error messages).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMountSpecs, validateBindSources, imageVolumeSpec, type MountSpec } from '../../src/mount/spec.js';
import { InvalidParameter } from '../../src/errors.js';

const V = '1.41';
const NEW = '1.50';

function one(input: Parameters<typeof parseMountSpecs>[0], v = V): MountSpec {
  const specs = parseMountSpecs(input, v);
  assert.equal(specs.length, 1);
  return specs[0]!;
}

function inspectOf(s: MountSpec) {
  return {
    Type: s.type,
    Source: s.source,
    Destination: s.destination,
    Mode: s.mode,
    RW: !s.readOnly,
    Propagation: s.propagation,
  };
}

function fails(input: Parameters<typeof parseMountSpecs>[0], message: string, v = V): void {
  assert.throws(
    () => parseMountSpecs(input, v),
    (err: unknown) => {
      assert.ok(err instanceof InvalidParameter, `not InvalidParameter: ${err}`);
      assert.equal((err as Error).message, message);
      return true;
    },
  );
}

const validBinds: [string, ReturnType<typeof inspectOf>][] = [
  ['/tmp:/a', { Type: 'bind', Source: '/tmp', Destination: '/a', Mode: '', RW: true, Propagation: 'rprivate' }],
  ['/tmp:/a:ro', { Type: 'bind', Source: '/tmp', Destination: '/a', Mode: 'ro', RW: false, Propagation: 'rprivate' }],
  ['/tmp:/a:rw', { Type: 'bind', Source: '/tmp', Destination: '/a', Mode: 'rw', RW: true, Propagation: 'rprivate' }],
  [
    '/tmp:/a:ro,Z',
    { Type: 'bind', Source: '/tmp', Destination: '/a', Mode: 'ro,Z', RW: false, Propagation: 'rprivate' },
  ],
  [
    '/tmp:/a:cached',
    { Type: 'bind', Source: '/tmp', Destination: '/a', Mode: 'cached', RW: true, Propagation: 'rprivate' },
  ],
  [
    '/tmp:/a:delegated',
    { Type: 'bind', Source: '/tmp', Destination: '/a', Mode: 'delegated', RW: true, Propagation: 'rprivate' },
  ],
  [
    '/tmp:/a:consistent,ro',
    { Type: 'bind', Source: '/tmp', Destination: '/a', Mode: 'consistent,ro', RW: false, Propagation: 'rprivate' },
  ],
  [
    '/tmp:/a:rslave',
    { Type: 'bind', Source: '/tmp', Destination: '/a', Mode: 'rslave', RW: true, Propagation: 'rslave' },
  ],
  [
    '/tmp/y:/a:shared',
    { Type: 'bind', Source: '/tmp/y', Destination: '/a', Mode: 'shared', RW: true, Propagation: 'shared' },
  ],
  [
    '/tmp:/a:z,shared',
    { Type: 'bind', Source: '/tmp', Destination: '/a', Mode: 'z,shared', RW: true, Propagation: 'shared' },
  ],
  ['/tmp:/a:', { Type: 'bind', Source: '/tmp', Destination: '/a', Mode: '', RW: true, Propagation: 'rprivate' }],
  [
    '/tmp/x/../y:/a/./b',
    { Type: 'bind', Source: '/tmp/y', Destination: '/a/b', Mode: '', RW: true, Propagation: 'rprivate' },
  ],
  ['/tmp:/a/b/..', { Type: 'bind', Source: '/tmp', Destination: '/a', Mode: '', RW: true, Propagation: 'rprivate' }],
  [
    '/home:/with space',
    { Type: 'bind', Source: '/home', Destination: '/with space', Mode: '', RW: true, Propagation: 'rprivate' },
  ],
  ['vol1:/a', { Type: 'volume', Source: 'vol1', Destination: '/a', Mode: 'z', RW: true, Propagation: '' }],
  ['vol1:/a:nocopy', { Type: 'volume', Source: 'vol1', Destination: '/a', Mode: 'nocopy', RW: true, Propagation: '' }],
  [
    'vol1:/a:ro,nocopy',
    { Type: 'volume', Source: 'vol1', Destination: '/a', Mode: 'ro,nocopy', RW: false, Propagation: '' },
  ],
  [
    'local/name:/tmp:rw',
    { Type: 'volume', Source: 'local/name', Destination: '/tmp', Mode: 'rw', RW: true, Propagation: '' },
  ],
  ['/a', { Type: 'volume', Source: '', Destination: '/a', Mode: 'z', RW: true, Propagation: '' }],
];

for (const [bind, want] of validBinds) {
  test(`Binds ${JSON.stringify(bind)}`, () => {
    const s = one({ Binds: [bind] });
    assert.deepEqual(inspectOf(s), want);
    assert.equal(s.origin, 'binds');
    if (s.type === 'bind') assert.equal(s.createHostPath, true);
  });
}

test('Binds: nocopy and the volume driver reach the spec', () => {
  const s = one({ Binds: ['data:/d:nocopy'], VolumeDriver: 'flocker' });
  assert.equal(s.noCopy, true);
  assert.equal(s.driver, 'flocker');
  assert.equal(s.mode, 'nocopy');
  // The volume driver never applies to binds.
  assert.equal(one({ Binds: ['/h:/d'], VolumeDriver: 'flocker' }).driver, undefined);
  // A non-local driver gets no implicit "z".
  assert.equal(one({ Binds: ['data:/d'], VolumeDriver: 'flocker' }).mode, '');
});

const invalidBinds: [string[], string][] = [
  [[':/a'], "invalid volume specification: ':/a'"],
  [[''], "invalid volume specification: ''"],
  [['::'], "invalid volume specification: '::'"],
  [['/tmp:/a:b:c'], "invalid volume specification: '/tmp:/a:b:c'"],
  [['/a:rw'], "invalid volume specification: '/a:rw'"],
  [['/path:shared'], "invalid volume specification: '/path:shared'"],
  [['path:ro'], "invalid volume specification: 'path:ro'"],
  [['/tmp:/a:bogus'], 'invalid mode: bogus'],
  [['/tmp:/a:ro,rw'], 'invalid mode: ro,rw'],
  [['/tmp:/a:rw,rw'], 'invalid mode: rw,rw'],
  [['/tmp:/a:z,Z'], 'invalid mode: z,Z'],
  [['v1:/a:cached,delegated'], 'invalid mode: cached,delegated'],
  [['/path:/path:ro,rshared,rslave'], 'invalid mode: ro,rshared,rslave'],
  [['/path:/path:rwz'], 'invalid mode: rwz'],
  [
    ['/tmp:/a:nocopy'],
    `invalid volume specification: '/tmp:/a:nocopy': invalid mount config for type "bind": field VolumeOptions must not be specified`,
  ],
  [
    ['/tmp:/a:ro,nocopy'],
    `invalid volume specification: '/tmp:/a:ro,nocopy': invalid mount config for type "bind": field VolumeOptions must not be specified`,
  ],
  [
    ['vol1:/a:shared'],
    `invalid volume specification: 'vol1:/a:shared': invalid mount config for type "volume": field BindOptions must not be specified`,
  ],
  [
    ['/tmp:rel'],
    `invalid volume specification: '/tmp:rel': invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`,
  ],
  [
    ['/tmp:/'],
    `invalid volume specification: '/tmp:/': invalid mount config for type "bind": invalid specification: destination can't be '/'`,
  ],
  [
    ['rel'],
    `invalid volume specification: 'rel': invalid mount config for type "volume": invalid mount path: 'rel' mount path must be absolute`,
  ],
  [
    ['/tmp::'],
    `invalid volume specification: '/tmp::': invalid mount config for type "bind": field Target must not be empty`,
  ],
  [
    ['./'],
    `invalid volume specification: './': invalid mount config for type "volume": invalid mount path: './' mount path must be absolute`,
  ],
  [['/tmp:/a', '/tmp:/a'], 'Duplicate mount point: /a'],
  [['/tmp:/a/', 'v:/a'], 'Duplicate mount point: /a'],
];

for (const [binds, message] of invalidBinds) {
  test(`Binds ${JSON.stringify(binds)} is refused`, () => fails({ Binds: binds }, message));
}

test('Mounts: bind, volume, tmpfs as inspect shows them', () => {
  assert.deepEqual(inspectOf(one({ Mounts: [{ Type: 'bind', Source: '/tmp', Target: '/a' }] })), {
    Type: 'bind',
    Source: '/tmp',
    Destination: '/a',
    Mode: '',
    RW: true,
    Propagation: 'rprivate',
  });
  assert.deepEqual(
    inspectOf(one({ Mounts: [{ Type: 'bind', Source: '/tmp', Target: '/a', ReadOnly: true, Consistency: 'cached' }] })),
    { Type: 'bind', Source: '/tmp', Destination: '/a', Mode: '', RW: false, Propagation: 'rprivate' },
  );
  assert.deepEqual(inspectOf(one({ Mounts: [{ Type: 'volume', Source: 'v2', Target: '/a' }] })), {
    Type: 'volume',
    Source: 'v2',
    Destination: '/a',
    Mode: 'z',
    RW: true,
    Propagation: '',
  });
  assert.deepEqual(inspectOf(one({ Mounts: [{ Type: 'volume', Target: '/a' }] })), {
    Type: 'volume',
    Source: '',
    Destination: '/a',
    Mode: 'z',
    RW: true,
    Propagation: '',
  });
  assert.deepEqual(inspectOf(one({ Mounts: [{ Type: 'tmpfs', Target: '/a' }] })), {
    Type: 'tmpfs',
    Source: '',
    Destination: '/a',
    Mode: '',
    RW: true,
    Propagation: '',
  });
  const b = one({ Mounts: [{ Type: 'bind', Source: '/tmp', Target: '/a' }] });
  assert.equal(b.createHostPath, false);
  assert.equal(b.origin, 'mounts');
});

test('Mounts: volume options reach the spec', () => {
  const s = one(
    {
      Mounts: [
        {
          Type: 'volume',
          Source: 'v2',
          Target: '/a',
          ReadOnly: true,
          VolumeOptions: {
            NoCopy: true,
            Labels: { x: 'y' },
            DriverConfig: { Name: 'local', Options: { type: 'tmpfs' } },
            Subpath: 'sub/dir',
          },
        },
      ],
    },
    NEW,
  );
  assert.equal(s.readOnly, true);
  assert.equal(s.noCopy, true);
  assert.deepEqual(s.volumeLabels, { x: 'y' });
  assert.equal(s.driver, 'local');
  assert.deepEqual(s.driverOptions, { type: 'tmpfs' });
  assert.equal(s.subpath, 'sub/dir');
  assert.equal(s.mode, 'z');
  // Subpath exists from API 1.45: older clients' value is ignored, as dockerd does.
  assert.equal(
    one({ Mounts: [{ Type: 'volume', Source: 'v2', Target: '/a', VolumeOptions: { Subpath: '../x' } }] }).subpath,
    undefined,
  );
});

test('Mounts: CreateMountpoint from API 1.42', () => {
  const m = { Type: 'bind', Source: '/nonexist', Target: '/a', BindOptions: { CreateMountpoint: true } };
  assert.equal(one({ Mounts: [m] }, NEW).createHostPath, true);
  assert.equal(one({ Mounts: [m] }, '1.41').createHostPath, false);
});

const invalidMounts: [unknown, string, string?][] = [
  [
    { Type: 'bind', Source: '/tmp', Target: '/a', VolumeOptions: {} },
    'invalid mount config for type "bind": field VolumeOptions must not be specified',
  ],
  [
    { Type: 'bind', Source: 'rel', Target: '/a' },
    `invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`,
  ],
  [{ Type: 'bind', Target: '/a' }, 'invalid mount config for type "bind": field Source must not be empty'],
  [
    { Type: 'bind', Source: '/tmp', Target: '/a', BindOptions: { Propagation: 'foo' } },
    'invalid mount config for type "bind": invalid propagation mode: foo',
  ],
  [
    { Type: 'volume', Target: '/a', ReadOnly: true },
    'invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes',
  ],
  [
    { Type: 'volume', Source: 'v2', Target: '/a', BindOptions: {} },
    'invalid mount config for type "volume": field BindOptions must not be specified',
  ],
  [
    { Type: 'tmpfs', Source: 'x', Target: '/a' },
    'invalid mount config for type "tmpfs": field Source must not be specified',
  ],
  [{ Type: 'npipe', Source: 'x', Target: '/a' }, 'invalid mount config for type "npipe": mount type unknown'],
  [{ Type: 'foo', Target: '/a' }, 'invalid mount config for type "foo": mount type unknown'],
  [{ Source: '/tmp', Target: '/a' }, 'invalid mount config for type "": mount type unknown'],
  [
    { Type: 'bind', Source: '/tmp', Target: '/' },
    `invalid mount config for type "bind": invalid specification: destination can't be '/'`,
  ],
  [
    { Type: 'bind', Source: '/tmp', Target: 'a' },
    `invalid mount config for type "bind": invalid mount path: 'a' mount path must be absolute`,
  ],
  [
    { Type: 'bind', Source: '/tmp', Target: '' },
    'invalid mount config for type "bind": field Target must not be empty',
  ],
  // From API 1.42 the router refuses options that do not belong to the type, in its own words.
  [
    { Type: 'tmpfs', Target: '/a', VolumeOptions: {} },
    'VolumeOptions must not be specified on mount type "tmpfs"',
    NEW,
  ],
  [
    { Type: 'bind', Source: '/tmp', Target: '/a', VolumeOptions: {} },
    'VolumeOptions must not be specified on mount type "bind"',
    NEW,
  ],
  [
    { Type: 'bind', Source: '/tmp', Target: '/a', TmpfsOptions: {} },
    'TmpfsOptions must not be specified on mount type "bind"',
    NEW,
  ],
  [
    { Type: 'volume', Source: 'v', Target: '/a', TmpfsOptions: {} },
    'TmpfsOptions must not be specified on mount type "volume"',
    NEW,
  ],
  [
    { Type: 'volume', Source: 'v', Target: '/a', BindOptions: {} },
    'BindOptions must not be specified on mount type "volume"',
    NEW,
  ],
  [
    { Type: 'volume', Source: 'v', Target: '/a', VolumeOptions: { Subpath: 'x' } },
    'VolumeOptions.Subpath needs API v1.45 or newer',
    '1.44',
  ],
  [
    { Type: 'volume', Source: 'v2', Target: '/a', VolumeOptions: { Subpath: '../x' } },
    'invalid mount config for type "volume": subpath must be a relative path within the volume',
    NEW,
  ],
  [
    { Type: 'volume', Source: 'v2', Target: '/a', VolumeOptions: { Subpath: '/etc' } },
    'invalid mount config for type "volume": subpath must be a relative path within the volume',
    NEW,
  ],
  [
    { Type: 'volume', Source: 'v2', Target: '/a', VolumeOptions: { Subpath: 'a/../../b' } },
    'invalid mount config for type "volume": subpath must be a relative path within the volume',
    NEW,
  ],
  [
    { Type: 'volume', Target: '/a', VolumeOptions: { Subpath: 'x' } },
    'invalid mount config for type "volume": must not set Subpath when using anonymous volumes',
    NEW,
  ],
  [
    { Type: 'tmpfs', Target: '/a', TmpfsOptions: { Options: [['nosuid']] } },
    'invalid mount config for type "tmpfs": invalid option: nosuid',
    NEW,
  ],
];

for (const [m, message, v] of invalidMounts) {
  test(`Mounts ${JSON.stringify(m)} is refused (API ${v ?? V})`, () =>
    fails({ Mounts: [m as never] }, message, v ?? V));
}

test('Mounts: the router checks every mount before the parser looks at any', () => {
  fails(
    {
      Mounts: [
        { Type: 'bind', Target: 'rel' },
        { Type: 'tmpfs', Target: '/b', BindOptions: {} },
      ],
    },
    'BindOptions must not be specified on mount type "tmpfs"',
    NEW,
  );
});

test('Mounts: options of another type are ignored before API 1.42, as 20.10 does', () => {
  assert.equal(one({ Mounts: [{ Type: 'tmpfs', Target: '/a', VolumeOptions: {} }] }).type, 'tmpfs');
  assert.equal(one({ Mounts: [{ Type: 'bind', Source: '/tmp', Target: '/a', TmpfsOptions: {} }] }).type, 'bind');
});

test('duplicates between Binds, Mounts and Tmpfs', () => {
  fails({ Binds: ['/tmp:/a'], Mounts: [{ Type: 'tmpfs', Target: '/a' }] }, 'Duplicate mount point: /a');
  // Mounts name the target as given.
  fails(
    {
      Mounts: [
        { Type: 'tmpfs', Target: '/a' },
        { Type: 'tmpfs', Target: '/a/' },
      ],
    },
    'Duplicate mount point: /a/',
  );
  fails({ Tmpfs: { '/a': '' }, Binds: ['/tmp:/a'] }, 'Duplicate mount point: /a');
  // Tmpfs keys are compared as written; a --mount tmpfs at the same place wins.
  assert.equal(parseMountSpecs({ Tmpfs: { '/a/': '' }, Binds: ['/tmp:/a'] }, V).length, 2);
  const specs = parseMountSpecs(
    { Tmpfs: { '/a': '' }, Mounts: [{ Type: 'tmpfs', Target: '/a', TmpfsOptions: { SizeBytes: 1 << 20 } }] },
    V,
  );
  assert.equal(specs.length, 1);
  assert.deepEqual(specs[0]!.tmpfsOptions, ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=1m']);
});

test('Tmpfs map: destinations and options as Docker mounts them', () => {
  fails({ Tmpfs: { rel: '' } }, "invalid mount path: 'rel' mount path must be absolute");
  fails({ Tmpfs: { '/': '' } }, "invalid specification: destination can't be '/'");
  fails({ Tmpfs: { '/a': 'bogus' } }, 'invalid tmpfs option ["bogus"]');
  fails({ Tmpfs: { '/a': 'nosuid=1' } }, 'invalid tmpfs option ["nosuid" "1"]');
  const opts = (data: string) => one({ Tmpfs: { '/a': data } }).tmpfsOptions;
  assert.deepEqual(opts(''), ['noexec', 'nosuid', 'nodev', 'rprivate']);
  assert.deepEqual(opts('size=10m,mode=1777'), ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=10m', 'mode=1777']);
  // Later options replace earlier ones setting the same flag (/proc/mounts: ro,nosuid,nodev).
  assert.deepEqual(opts('exec,ro'), ['nosuid', 'nodev', 'rprivate', 'exec', 'ro']);
  assert.deepEqual(opts('noexec,exec'), ['nosuid', 'nodev', 'rprivate', 'exec']);
  assert.deepEqual(opts('size=1m,size=2m'), ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=2m']);
  assert.deepEqual(opts('ro,rw,mode=700,suid,dev'), ['noexec', 'rprivate', 'rw', 'mode=700', 'suid', 'dev']);
  assert.deepEqual(opts('rw,size=64m,uid=1000,nr_inodes=100'), [
    'noexec',
    'nosuid',
    'nodev',
    'rprivate',
    'rw',
    'size=64m',
    'uid=1000',
    'nr_inodes=100',
  ]);
  const s = one({ Tmpfs: { '/a': '' } });
  assert.equal(s.origin, 'tmpfs');
  assert.equal(s.type, 'tmpfs');
});

test('TmpfsOptions: size in the largest whole unit, mode in octal', () => {
  const opts = (o: object, ro = false, v = V) =>
    one({ Mounts: [{ Type: 'tmpfs', Target: '/t', ReadOnly: ro, TmpfsOptions: o }] }, v).tmpfsOptions;
  assert.deepEqual(opts({ SizeBytes: 67108864, Mode: 0o1777 }), [
    'noexec',
    'nosuid',
    'nodev',
    'rprivate',
    'mode=1777',
    'size=64m',
  ]);
  assert.deepEqual(opts({ SizeBytes: 1 << 30 }), ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=1g']);
  assert.deepEqual(opts({ SizeBytes: 100 * 1024 * 1024 }), ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=100m']);
  assert.deepEqual(opts({ SizeBytes: 1536 }), ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=1536']);
  assert.deepEqual(opts({ SizeBytes: 3072 }), ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=3k']);
  assert.deepEqual(opts({ Mode: 0o700 }), ['noexec', 'nosuid', 'nodev', 'rprivate', 'mode=700']);
  assert.deepEqual(opts({ SizeBytes: 1000 }, true), ['noexec', 'nosuid', 'nodev', 'rprivate', 'ro', 'size=1000']);
  // TmpfsOptions.Options (API 1.46): exec/noexec only.
  assert.deepEqual(opts({ Options: [['exec']] }, false, NEW), ['nosuid', 'nodev', 'rprivate', 'exec']);
});

test('daemon root: binds holding it propagate rslave', () => {
  const root = '/var/lib/strata';
  const bind = (b: string) => parseMountSpecs({ Binds: [b] }, V, { daemonRoot: root })[0]!;
  assert.equal(bind('/var:/a').propagation, 'rslave');
  assert.equal(bind('/var/lib/strata/volumes:/a').propagation, 'rslave');
  assert.equal(bind('/var:/a:rshared').propagation, 'rshared');
  assert.equal(bind('/srv:/a').propagation, 'rprivate');
  assert.throws(() => bind('/var:/a:private'), {
    message:
      'invalid mount config: must use either propagation mode "rslave" or "rshared" when mount source is within the daemon root, ' +
      'daemon root: "/var/lib/strata", bind mount source: "/var", propagation: "private"',
  });
});

test('validateBindSources: --mount refuses a missing source, -v and CreateMountpoint do not', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-spec-'));
  try {
    const missing = path.join(dir, 'missing');
    const mounts = parseMountSpecs({ Mounts: [{ Type: 'bind', Source: missing, Target: '/a' }] }, V);
    assert.throws(() => validateBindSources(mounts), {
      message: `invalid mount config for type "bind": bind source path does not exist: ${missing}`,
    });
    assert.equal(fs.existsSync(missing), false);
    validateBindSources(parseMountSpecs({ Binds: [`${missing}:/a`] }, V));
    validateBindSources(
      parseMountSpecs(
        { Mounts: [{ Type: 'bind', Source: missing, Target: '/a', BindOptions: { CreateMountpoint: true } }] },
        NEW,
      ),
    );
    validateBindSources(parseMountSpecs({ Mounts: [{ Type: 'bind', Source: dir, Target: '/a' }] }, V));
    assert.equal(fs.existsSync(missing), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('imageVolumeSpec: an anonymous local volume with an empty Mode', () => {
  assert.deepEqual(inspectOf(imageVolumeSpec('/data/')), {
    Type: 'volume',
    Source: '',
    Destination: '/data',
    Mode: '',
    RW: true,
    Propagation: '',
  });
});

test('empty input', () => {
  assert.deepEqual(parseMountSpecs({}, V), []);
  assert.deepEqual(parseMountSpecs({ Binds: null, Mounts: null, Tmpfs: null }, V), []);
});
