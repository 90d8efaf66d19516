// A tiny base image for build tests: the host's static busybox as /bin/sh, plus passwd and
// group files, packed as a docker-archive that `docker load` takes.
import fs from 'node:fs';
import { dockerArchive, makeTar, sha256 } from '../image/fixture-archive.js';

export async function busyboxArchive(tag: string): Promise<Buffer> {
  const busybox = fs.readFileSync('/bin/busybox');
  const layer = await makeTar([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', data: busybox, mode: 0o755 },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/cat', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/echo', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/rm', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/head', type: 'symlink', linkname: 'busybox' },
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n' },
    { name: 'etc/group', data: 'root:x:0:\nbob:x:1000:\n' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'opt/', type: 'directory' },
  ]);
  const diffID = sha256(layer);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
      created: '2026-01-01T00:00:00Z',
      history: [{ created: '2026-01-01T00:00:00Z', created_by: 'busybox base' }],
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [diffID] },
    }),
  );
  return (await dockerArchive({ tag, layers: [layer], config, gzipIndex: -1 })).tar;
}
