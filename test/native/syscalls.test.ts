import assert from 'node:assert/strict';
import {
  closeSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as sys from '../../src/native/syscalls.js';

function temp(): string {
  return mkdtempSync(join(tmpdir(), 'strata-native-'));
}

test('mknodat makes 0/0 whiteouts and real devices; errors carry errno names', () => {
  const d = temp();
  try {
    sys.mknod(join(d, 'wh'), sys.S_IFCHR, 0, 0);
    const wh = sys.statx(sys.AT_FDCWD, join(d, 'wh'));
    assert.equal(wh.mode & sys.S_IFMT, sys.S_IFCHR);
    assert.deepEqual([wh.rdevMajor, wh.rdevMinor], [0, 0]);
    sys.mknod(join(d, 'big'), sys.S_IFBLK | 0o600, 259, 300);
    const big = sys.statx(sys.AT_FDCWD, join(d, 'big'));
    assert.deepEqual([big.rdevMajor, big.rdevMinor], [259, 300]);
    assert.throws(
      () => sys.mknod(join(d, 'wh'), sys.S_IFCHR, 0, 0),
      (err: unknown) => {
        assert.ok(err instanceof sys.SyscallError);
        assert.equal(err.code, 'EEXIST');
        assert.equal(err.syscall, 'mknodat');
        assert.match(err.message, /^EEXIST: /);
        return true;
      },
    );
  } finally {
    rmSync(d, { recursive: true });
  }
});

test('xattrs: binary values round trip, absent names read as null, lists', () => {
  const d = temp();
  try {
    const f = join(d, 'f');
    writeFileSync(f, 'x');
    const cap = Buffer.from([1, 0, 0, 2, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    sys.lsetxattr(f, 'security.capability', cap);
    sys.lsetxattr(f, 'trusted.overlay.opaque', Buffer.from('y'));
    assert.deepEqual(sys.lgetxattr(f, 'security.capability'), cap);
    assert.equal(sys.lgetxattr(f, 'user.absent'), null);
    assert.deepEqual(sys.llistxattr(f).sort(), ['security.capability', 'trusted.overlay.opaque']);
    const fd = sys.openat(sys.AT_FDCWD, d, sys.O_RDONLY | sys.O_DIRECTORY);
    try {
      sys.fsetxattr(fd, 'user.dir', Buffer.from('v'));
      assert.deepEqual(sys.fgetxattr(fd, 'user.dir'), Buffer.from('v'));
      assert.ok(sys.flistxattr(fd).includes('user.dir'));
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(d, { recursive: true });
  }
});

test('openat2 RESOLVE_BENEATH refuses escapes; RESOLVE_IN_ROOT re-roots them', () => {
  const d = temp();
  try {
    mkdirSync(join(d, 'root/etc'), { recursive: true });
    writeFileSync(join(d, 'root/etc/passwd'), 'inside');
    symlinkSync('/', join(d, 'root/abs'));
    symlinkSync('../../..', join(d, 'root/up'));
    const root = sys.openat(sys.AT_FDCWD, join(d, 'root'), sys.O_PATH | sys.O_DIRECTORY);
    try {
      for (const p of ['abs/etc/passwd', 'up/etc/passwd', '../etc/passwd']) {
        assert.throws(
          () => sys.openat2(root, p, sys.O_RDONLY, 0, sys.RESOLVE_BENEATH),
          (e: unknown) => (e as sys.SyscallError).code === 'EXDEV',
          p,
        );
        const fd = sys.openat2(root, p, sys.O_RDONLY, 0, sys.RESOLVE_IN_ROOT);
        assert.equal(readFileSync(fd, 'utf8'), 'inside');
        closeSync(fd);
      }
      assert.throws(
        () => sys.openat2(root, 'abs', sys.O_RDONLY, 0, sys.RESOLVE_NO_SYMLINKS),
        (e: unknown) => (e as sys.SyscallError).code === 'ELOOP',
      );
    } finally {
      closeSync(root);
    }
  } finally {
    rmSync(d, { recursive: true });
  }
});

test('*at helpers: symlinkat, linkat, utimensat on a link, unlinkat, readlinkat', () => {
  const d = temp();
  const fd = sys.openat(sys.AT_FDCWD, d, sys.O_RDONLY | sys.O_DIRECTORY);
  try {
    sys.symlinkat('/nowhere', fd, 'l');
    assert.equal(sys.readlinkat(fd, 'l'), '/nowhere');
    sys.utimensat(fd, 'l', { sec: 1000, nsec: 0 }, { sec: 2000, nsec: 500 }, sys.AT_SYMLINK_NOFOLLOW);
    const st = sys.statx(fd, 'l');
    assert.deepEqual(st.mtime, { sec: 2000, nsec: 500 });
    writeFileSync(join(d, 'f'), 'x');
    sys.linkat(fd, 'f', fd, 'g');
    assert.equal(lstatSync(join(d, 'g')).nlink, 2);
    sys.mkdirat(fd, 'dir', 0o700);
    sys.unlinkat(fd, 'dir', sys.AT_REMOVEDIR);
    assert.throws(
      () => sys.unlinkat(fd, 'dir'),
      (e: unknown) => (e as sys.SyscallError).code === 'ENOENT',
    );
  } finally {
    closeSync(fd);
    rmSync(d, { recursive: true });
  }
});

test('futimens and utimensat set times before 1970, past 2106 and to the nanosecond', () => {
  const d = temp();
  const dfd = sys.openat(sys.AT_FDCWD, d, sys.O_RDONLY | sys.O_DIRECTORY);
  const fd = sys.openat(dfd, 'f', sys.O_WRONLY | sys.O_CREAT | sys.O_EXCL, 0o644);
  try {
    const cases = [
      { sec: 1_700_000_000, nsec: 123_456_789 },
      { sec: -1, nsec: 5 },
      { sec: -1_000_000_000, nsec: 0 }, // 1938: ext4 keeps times from 1901 on
      { sec: 4_294_967_296 + 7, nsec: 999_999_999 },
      { sec: 0, nsec: 0 },
    ];
    for (const t of cases) {
      const a = { sec: t.sec - 60, nsec: t.nsec };
      sys.futimens(fd, a, t);
      let st = sys.statx(fd, '', sys.AT_EMPTY_PATH);
      assert.deepEqual([st.atime, st.mtime], [a, t], `futimens ${t.sec}.${t.nsec}`);
      sys.utimensat(dfd, 'f', t, a, 0);
      st = sys.statx(dfd, 'f');
      assert.deepEqual([st.atime, st.mtime], [t, a], `utimensat ${t.sec}.${t.nsec}`);
    }
  } finally {
    closeSync(fd);
    closeSync(dfd);
    rmSync(d, { recursive: true });
  }
});

test('mount and umount2 a tmpfs; errors name the target', () => {
  const d = temp();
  try {
    sys.mount('tmpfs', d, 'tmpfs', sys.MS_NOSUID | sys.MS_NODEV, 'size=1m,mode=0750');
    try {
      assert.equal(lstatSync(d).mode & 0o777, 0o750);
      writeFileSync(join(d, 'x'), 'y');
      const fd = sys.openat(sys.AT_FDCWD, d, sys.O_RDONLY | sys.O_DIRECTORY);
      sys.syncfs(fd);
      closeSync(fd);
    } finally {
      sys.umount2(d, 0);
    }
    assert.throws(
      () => sys.umount2(d, 0),
      (e: unknown) => (e as sys.SyscallError).code === 'EINVAL' && (e as Error).message.includes(d),
    );
  } finally {
    rmSync(d, { recursive: true });
  }
});

test('sync_file_range starts writeback of a file and leaves its data intact; errors carry errno names', () => {
  const d = temp();
  try {
    const path = join(d, 'data');
    const data = Buffer.alloc(3 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    writeFileSync(path, data);
    const fd = sys.openat(sys.AT_FDCWD, path, sys.O_RDWR);
    try {
      sys.syncFileRange(fd, 0, 0, sys.SYNC_FILE_RANGE_WRITE);
      // A 64-bit offset past the end is a valid, empty range.
      sys.syncFileRange(fd, 2 ** 33, 4096, sys.SYNC_FILE_RANGE_WRITE);
      sys.syncFileRange(
        fd,
        1 << 20,
        1 << 20,
        sys.SYNC_FILE_RANGE_WAIT_BEFORE | sys.SYNC_FILE_RANGE_WRITE | sys.SYNC_FILE_RANGE_WAIT_AFTER,
      );
      assert.throws(
        () => sys.syncFileRange(fd, -1, 0, sys.SYNC_FILE_RANGE_WRITE),
        (e: unknown) =>
          (e as sys.SyscallError).code === 'EINVAL' && (e as sys.SyscallError).syscall === 'sync_file_range',
      );
      assert.throws(
        () => sys.syncFileRange(fd, 0, 0, 8),
        (e: unknown) => (e as sys.SyscallError).code === 'EINVAL',
      );
    } finally {
      closeSync(fd);
    }
    assert.throws(
      () => sys.syncFileRange(fd, 0, 0, sys.SYNC_FILE_RANGE_WRITE),
      (e: unknown) => (e as sys.SyscallError).code === 'EBADF',
    );
    assert.ok(readFileSync(path).equals(data));
  } finally {
    rmSync(d, { recursive: true });
  }
});
