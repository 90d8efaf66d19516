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
