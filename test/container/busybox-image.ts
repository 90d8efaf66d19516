// A runnable test image: the host's statically linked busybox with its applet links, a
// passwd/group with root and nobody, as a docker-archive (or as a plain root directory).
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { dockerArchive, makeTar, sha256, type TarEntry } from '../image/fixture-archive.js';

export function findStaticBusybox(): string | undefined {
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) {
    try {
      const elf = execFileSync('readelf', ['-l', p], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
      if (!elf.includes('Requesting program interpreter')) return p;
    } catch {
      /* not there */
    }
  }
  return undefined;
}

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
const GROUP = 'root:x:0:\nusers:x:100:\nnogroup:x:65534:\n';
const APPLETS = [
  'sh',
  'cat',
  'echo',
  'touch',
  'dd',
  'sleep',
  'id',
  'ls',
  'mount',
  'df',
  'stat',
  'pwd',
  'hostname',
  'env',
  'mkdir',
  'rm',
  'true',
  'false',
  'tty',
  'head',
  'grep',
];

export async function busyboxArchive(tag: string, extraConfig: Record<string, unknown> = {}): Promise<Buffer> {
  const bb = findStaticBusybox();
  if (!bb) throw new Error('no statically linked busybox on this host');
  const entries: TarEntry[] = [
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', data: fs.readFileSync(bb), mode: 0o755 },
    ...APPLETS.map((a): TarEntry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', data: PASSWD },
    { name: 'etc/group', data: GROUP },
    { name: 'etc/os-release', data: 'ID=busybox-test\n' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'root/', type: 'directory', mode: 0o700 },
    { name: 'data/', type: 'directory' },
    { name: 'data/seed.txt', data: 'seeded\n' },
  ];
  const layer = await makeTar(entries);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2026-01-01T00:00:00Z',
      config: { Cmd: ['sh'], Env: ['PATH=/bin'], ...extraConfig },
      rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
      history: [{ created: '2026-01-01T00:00:00Z', created_by: 'busybox' }],
    }),
  );
  return (await dockerArchive({ tag, layers: [layer], config, gzipIndex: -1 })).tar;
}

/** The same content as a directory, for runtime tests that need no image store. */
export function busyboxRootfs(dir: string): void {
  const bb = findStaticBusybox();
  if (!bb) throw new Error('no statically linked busybox on this host');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root'])
    fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.copyFileSync(bb, path.join(dir, 'bin/busybox'));
  fs.chmodSync(path.join(dir, 'bin/busybox'), 0o755);
  for (const a of APPLETS) fs.symlinkSync('busybox', path.join(dir, 'bin', a));
  fs.writeFileSync(path.join(dir, 'etc/passwd'), PASSWD);
  fs.writeFileSync(path.join(dir, 'etc/group'), GROUP);
  for (const f of ['hosts', 'hostname', 'resolv.conf']) fs.writeFileSync(path.join(dir, 'etc', f), '');
}
