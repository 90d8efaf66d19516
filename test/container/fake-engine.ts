// An engine with just what the container filesystem ops use: a container whose root is a
// plain directory, a snapshotter answering diffSource, and an image service recording create().
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ContainerOpsDeps } from '../../src/container/ops-deps.js';
import type { ContainerRecord } from '../../src/container/types.js';
import type { DiffSource } from '../../src/archive/types.js';
import type { NewImageOptions } from '../../src/image/types.js';
import { NotFound } from '../../src/errors.js';
import { mountAll, unmount } from '../../src/mount/kernel.js';
import { openDetachedCopy } from '../../src/mount/fd-mount.js';
import { openTrustedDirectory } from '../../src/mount/in-root.js';

export interface FakeEngine {
  engine: ContainerOpsDeps;
  dir: string;
  rootfs: string;
  record: ContainerRecord;
  created: NewImageOptions[];
  setDiffSource(src: DiffSource): void;
  cleanup(): void;
}

export function fakeEngine(overrides: Partial<ContainerRecord> = {}): FakeEngine {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-ctr-'));
  fs.mkdirSync(path.join(dir, 'tmp'));
  const rootfs = path.join(dir, 'rootfs');
  fs.mkdirSync(rootfs);
  const record: ContainerRecord = {
    id: 'c0ffee'.padEnd(64, '0'),
    name: 'box',
    imageId: 'sha256:' + 'a'.repeat(64),
    imageRef: 'alpine',
    snapshotKey: 'rw-key',
    rootfsPath: rootfs,
    config: { Cmd: ['sh', '-c', 'echo x > /f'], Env: ['PATH=/bin'] },
    hostConfig: {},
    mounts: [],
    state: { Status: 'created', Running: false, Pid: 0, ExitCode: 0, Error: '', StartedAt: '', FinishedAt: '' },
    created: new Date().toISOString(),
    ...overrides,
  };
  let diffSource: DiffSource = { kind: 'naive', upper: rootfs };
  const created: NewImageOptions[] = [];
  const get = async (ref: string) => {
    if (ref !== record.name && !record.id.startsWith(ref)) throw new NotFound(`No such container: ${ref}`);
    return record;
  };
  const engine: ContainerOpsDeps = {
    config: { dataRoot: dir },
    containers: {
      get,
      tornDown: async () => undefined,
      withRootfs: async <T>(ref: string, fn: (root: string, c: ContainerRecord) => Promise<T>) =>
        fn(rootfs, await get(ref)),
      // The container's rootfs as a run would mount it: the layers stacked (read-only here), read
      // through a detached copy of that mount, as the service hands it to docker export.
      withRootfsTree: async <T>(ref: string, fn: (dirFd: number, c: ContainerRecord) => Promise<T>) => {
        const rec = await get(ref);
        if (diffSource.kind === 'naive') {
          const fd = fs.openSync(diffSource.upper, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
          try {
            return await fn(fd, rec);
          } finally {
            fs.closeSync(fd);
          }
        }
        const stage = fs.mkdtempSync(path.join(dir, 'tmp', 'rootfs-'));
        const lowerdir = [diffSource.upper, ...diffSource.lowers].join(':');
        await mountAll([{ type: 'overlay', source: 'overlay', options: ['ro', `lowerdir=${lowerdir}`] }], stage);
        try {
          const pathFd = openTrustedDirectory(stage);
          const copy = openDetachedCopy(pathFd);
          fs.closeSync(pathFd);
          try {
            return await fn(copy.dirFd, rec);
          } finally {
            fs.closeSync(copy.dirFd);
            fs.closeSync(copy.mountFd);
          }
        } finally {
          await unmount(stage);
          fs.rmdirSync(stage);
        }
      },
    },
    snapshotter: {
      diffSource: async (key: string) => {
        if (key !== record.snapshotKey) throw new NotFound(`snapshot ${key}`);
        return diffSource;
      },
    },
    images: {
      create: async (opts: NewImageOptions) => {
        created.push(opts);
        return {
          id: 'sha256:' + 'b'.repeat(64),
          config: { rootfs: { type: 'layers', diff_ids: [] } },
          repoTags: [],
          repoDigests: [],
          parent: '',
          size: 0,
        };
      },
    },
    events: { emitEvent: () => undefined },
  };
  return {
    engine,
    dir,
    rootfs,
    record,
    created,
    setDiffSource: (src) => {
      diffSource = src;
    },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
