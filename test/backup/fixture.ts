// A volume service on plain directories, and a tree with every kind of entry a volume may hold.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Conflict, NotFound } from '../../src/errors.js';
import type { VolumeRecord } from '../../src/volume/types.js';
import type { ContainerRecord, ContainerService } from '../../src/container/types.js';
import { VolumeBackups, type BackupVolumes } from '../../src/backup/service.js';
import { cgroupFreezer } from '../../src/backup/freeze.js';

export function tempDir(prefix = 'strata-vb-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export class DirVolumes implements BackupVolumes {
  readonly vols = new Map<string, VolumeRecord>();
  readonly using = new Map<string, string[]>();
  constructor(readonly root: string) {}
  async create(opts: { name?: string; labels?: Record<string, string> }): Promise<VolumeRecord> {
    const name = opts.name!;
    const existing = this.vols.get(name);
    if (existing) return existing;
    const mountpoint = path.join(this.root, 'volumes', name, '_data');
    fs.mkdirSync(mountpoint, { recursive: true, mode: 0o755 });
    const rec: VolumeRecord = {
      name,
      driver: 'local',
      mountpoint,
      createdAt: new Date().toISOString(),
      labels: opts.labels ?? {},
      options: {},
      scope: 'local',
      anonymous: false,
    };
    this.vols.set(name, rec);
    return rec;
  }
  async get(name: string): Promise<VolumeRecord> {
    const v = this.vols.get(name);
    if (!v) throw new NotFound(`get ${name}: no such volume`);
    return v;
  }
  async remove(name: string): Promise<void> {
    if (this.users(name).length)
      throw new Conflict(`remove ${name}: volume is in use - [${this.users(name).join(', ')}]`);
    const v = await this.get(name);
    fs.rmSync(path.dirname(v.mountpoint), { recursive: true, force: true });
    this.vols.delete(name);
  }
  users(name: string): string[] {
    return this.using.get(name) ?? [];
  }
}

/** The container service as a backup reads it: records by reference (freezing is the freezer's). */
export class FakeContainers implements Pick<ContainerService, 'get'> {
  readonly records = new Map<string, ContainerRecord>();
  async get(ref: string): Promise<ContainerRecord> {
    const c = this.records.get(ref);
    if (!c) throw new NotFound(`No such container: ${ref}`);
    return c;
  }
  add(id: string, pid: number, running = true): void {
    this.records.set(id, {
      id,
      name: id,
      imageId: '',
      imageRef: '',
      snapshotKey: '',
      rootfsPath: '',
      config: {},
      hostConfig: {},
      mounts: [],
      created: '',
      state: {
        Status: running ? 'running' : 'exited',
        Running: running,
        Pid: pid,
        ExitCode: 0,
        Error: '',
        StartedAt: '',
        FinishedAt: '',
      },
    });
  }
}

export function makeService(root: string): { svc: VolumeBackups; volumes: DirVolumes; containers: FakeContainers } {
  const volumes = new DirVolumes(root);
  const containers = new FakeContainers();
  const svc = new VolumeBackups({
    volumes,
    containers,
    freezer: cgroupFreezer,
    dataRoot: root,
  });
  return { svc, volumes, containers };
}

/** Fills `dir` with owners, modes, an xattr, a hardlink, symlinks, a sparse file, an empty dir. */
export function fillTree(dir: string, opts: { absoluteLink?: boolean } = {}): void {
  fs.mkdirSync(path.join(dir, 'sub/deeper'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'hello.txt'), 'hello\n');
  fs.chmodSync(path.join(dir, 'hello.txt'), 0o600);
  fs.writeFileSync(path.join(dir, 'sub/deeper/long.txt'), 'x'.repeat(5000));
  fs.chownSync(path.join(dir, 'sub'), 1000, 1000);
  fs.chmodSync(path.join(dir, 'sub'), 0o750);
  fs.linkSync(path.join(dir, 'hello.txt'), path.join(dir, 'hard.txt'));
  fs.symlinkSync('hello.txt', path.join(dir, 'link'));
  if (opts.absoluteLink) fs.symlinkSync('/etc/hostname', path.join(dir, 'abs-link'));
  fs.mkdirSync(path.join(dir, 'empty'));
  fs.writeFileSync(
    path.join(dir, 'random.bin'),
    Buffer.from(Array.from({ length: 300 * 1024 }, (_, i) => (i * 7919) % 251)),
  );
  const fd = fs.openSync(path.join(dir, 'sparse.img'), 'w');
  fs.writeSync(fd, Buffer.alloc(4096, 7), 0, 4096, 8 << 20);
  fs.ftruncateSync(fd, 32 << 20);
  fs.closeSync(fd);
  execFileSync('python3', [
    '-c',
    'import os,sys; os.setxattr(sys.argv[1], "user.origin", b"strata")',
    path.join(dir, 'hello.txt'),
  ]);
}

export function getXattr(file: string, name: string): string {
  return execFileSync('python3', [
    '-c',
    'import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2]).decode())',
    file,
    name,
  ]).toString();
}

/** Every path with type, mode, owner, size, link count, content hash or link target: equal trees give equal manifests. */
export function manifest(dir: string): string {
  return execFileSync('sh', [
    '-c',
    `cd "$1" && find . -mindepth 1 | LC_ALL=C sort | while read -r f; do
    if [ -L "$f" ]; then echo "$f -> $(readlink "$f") $(stat -c '%u:%g' "$f")";
    elif [ -f "$f" ]; then echo "$f $(stat -c '%a %u:%g %s %h' "$f") $(sha256sum < "$f" | cut -c1-16)";
    else echo "$f $(stat -c '%F %a %u:%g' "$f")"; fi; done`,
    'sh',
    dir,
  ]).toString();
}

/** Allocated bytes of a file (to tell a sparse file from a dense one). */
export function allocatedBytes(file: string): number {
  return fs.statSync(file).blocks * 512;
}
