// What the storage drivers need to know about the filesystem under the data-root: its name as
// `docker info` prints it ("Backing Filesystem") and whether readdir reports file types (d_type),
// without which overlayfs misbehaves (whiteouts look like regular files).
import { mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import koffi, { type TypeObject } from 'koffi';

/** statfs f_type magic numbers → the names Docker prints (moby's fstype package). */
const fsNames = new Map<number, string>([
  [0x61756673, 'aufs'],
  [0x9123683e, 'btrfs'],
  [0x00c36400, 'ceph'],
  [0x28cd3d45, 'cramfs'],
  [0x0000f15f, 'ecryptfs'],
  [0x0000ef53, 'extfs'],
  [0xf2f52010, 'f2fs'],
  [0x47504653, 'gpfs'],
  [0x000072b6, 'jffs2'],
  [0x3153464a, 'jfs'],
  [0x00006969, 'nfs'],
  [0x794c7630, 'overlayfs'],
  [0x858458f6, 'ramfs'],
  [0x52654973, 'reiserfs'],
  [0x0000517b, 'smb'],
  [0x73717368, 'squashfs'],
  [0x01021994, 'tmpfs'],
  [0xa501fcf5, 'vxfs'],
  [0x58465342, 'xfs'],
  [0x2fc12fc1, 'zfs'],
]);

export async function backingFsName(dir: string): Promise<string> {
  const magic = (await statfs(dir)).type >>> 0;
  return fsNames.get(magic) ?? '<unknown>';
}

/** Filesystems known to always fill d_type, for when the probe itself cannot run. */
const alwaysDType = new Set(['extfs', 'btrfs', 'tmpfs', 'zfs', 'f2fs', 'overlayfs', 'ramfs']);

const DT_REG = 8;
interface Libc {
  opendir(name: string): unknown;
  readdir(dir: unknown): unknown;
  closedir(dir: unknown): number;
  dirent: TypeObject;
}
let libc: Libc | undefined;

function loadLibc(): Libc {
  if (libc) return libc;
  const lib = koffi.load('libc.so.6');
  // glibc's struct dirent on 64-bit Linux.
  const dirent = koffi.struct('strata_dirent', {
    d_ino: 'uint64',
    d_off: 'int64',
    d_reclen: 'uint16',
    d_type: 'uint8',
    d_name: koffi.array('char', 256, 'String'),
  });
  libc = {
    opendir: lib.func('void *opendir(const char *name)'),
    readdir: lib.func('strata_dirent *readdir(void *dirp)'),
    closedir: lib.func('int closedir(void *dirp)'),
    dirent,
  };
  return libc;
}

/**
 * Whether the filesystem at `dir` reports d_type: writes a file in a temp dir and reads the
 * directory with libc's readdir (Node's own readdir hides DT_UNKNOWN by falling back to lstat).
 */
export async function supportsDType(dir: string): Promise<boolean> {
  const probe = await mkdtemp(path.join(dir, 'dtype-probe-'));
  try {
    await writeFile(path.join(probe, 'f'), '');
    let c: Libc;
    try {
      c = loadLibc();
    } catch {
      return alwaysDType.has(await backingFsName(dir));
    }
    const d = c.opendir(probe);
    if (!d) throw new Error(`opendir ${probe} failed`);
    try {
      for (;;) {
        const e = c.readdir(d);
        if (!e) return false;
        const ent = koffi.decode(e, c.dirent) as { d_type: number; d_name: string };
        if (ent.d_name === 'f') return ent.d_type === DT_REG;
      }
    } finally {
      c.closedir(d);
    }
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
}
