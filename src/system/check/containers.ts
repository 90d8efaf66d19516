// Containers against their storage, both ways: a row needs its directory, its writable
// layer and (while running) its bundle; a directory, a container snapshot or a volume
// reference needs its row. A container whose create or removal is under way (it carries an
// incomplete mark) is left alone: its storage is half there by design.
import fs from 'node:fs';
import path from 'node:path';
import { Incomplete } from '../../meta/incomplete.js';
import { NotFound } from '../../errors.js';
import { removeTreeNoCross } from '../../mount/scratch.js';
import { directoryUsage } from '../../snapshot/usage.js';
import type { CheckEnv, Fault } from './types.js';
import { count, remover } from './types.js';

const CONTAINER_ID = /^[0-9a-f]{64}$/;
const CONTAINER_KEY = /^container-([0-9a-f]{64})(-init(-prepare)?|-image-\d+)?$/;
const CREATE_MARK = 'container-create';
const REMOVE_MARK = 'container-remove';

export async function checkContainers(env: CheckEnv): Promise<Fault[]> {
  const { engine } = env;
  const marks = new Incomplete(engine.db);
  // Creates and removals under way: their container's storage is half there by design.
  const making = new Set([...marks.list(CREATE_MARK), ...marks.list(REMOVE_MARK)].map((m) => m.key));
  const marked = (id: string) => marks.has(CREATE_MARK, id) || marks.has(REMOVE_MARK, id);
  const root = path.join(env.dataRoot, 'containers');
  const dirs = fs.existsSync(root) ? fs.readdirSync(root) : [];
  const keys: string[] = [];
  await engine.snapshotter.walk((info) => {
    keys.push(info.name);
  });
  const records = await engine.containers.list();
  count(env, 'containers', records.length);
  const ids = new Set(records.map((c) => c.id));
  const exists = async (id: string) => (await engine.containers.list()).some((c) => c.id === id);
  const snapshotThere = async (key: string) =>
    engine.snapshotter.stat(key).then(
      () => true,
      () => false,
    );
  const faults: Fault[] = [];

  for (const c of records) {
    if (making.has(c.id)) continue;
    const dir = path.join(root, c.id);
    if (!fs.existsSync(dir)) {
      faults.push({
        kind: 'container-dir-missing',
        path: dir,
        size: 0,
        detail: `container ${c.name} has no directory`,
        still: async () => (await exists(c.id)) && !marked(c.id) && !fs.existsSync(dir),
        repair: async () => {
          fs.mkdirSync(dir, { mode: 0o710 });
          return 'directory made again, empty (its logs are lost)';
        },
      });
    }
    if (!(await snapshotThere(c.snapshotKey))) {
      faults.push({
        kind: 'container-snapshot-missing',
        path: c.snapshotKey,
        size: 0,
        detail: `container ${c.name} has no writable layer`,
        still: async () => (await exists(c.id)) && !marked(c.id) && !(await snapshotThere(c.snapshotKey)),
        repair: async () => {
          if (c.state.Running) throw new Error('it is running');
          await remover(env).remove(c.id, { force: true });
          return 'its writable layer is gone: container removed (nothing else can be done)';
        },
      });
    }
    const bundle = path.join(env.execRoot, 'containers', c.id);
    if (c.state.Running && !fs.existsSync(bundle)) {
      faults.push({
        kind: 'container-bundle-missing',
        path: bundle,
        size: 0,
        detail: `running container ${c.name} has no runtime bundle`,
        still: () => c.state.Running && !fs.existsSync(bundle),
        left: 'restart the container to write its bundle again',
      });
    }
  }

  const orphans = new Map<string, string[]>();
  for (const key of keys) {
    const m = CONTAINER_KEY.exec(key);
    if (m && !ids.has(m[1]!) && !making.has(m[1]!)) orphans.set(m[1]!, [...(orphans.get(m[1]!) ?? []), key]);
  }
  for (const [id, list] of orphans) {
    // The writable layer sits on the init layer: children first.
    const ordered = [...list]
      .sort((a, b) => b.length - a.length)
      .sort((a, b) => Number(a.endsWith('-init')) - Number(b.endsWith('-init')));
    faults.push({
      kind: 'container-snapshot-orphan',
      path: ordered.join(' '),
      size: 0,
      detail: `snapshots of container ${id.slice(0, 12)}, which does not exist`,
      still: async () =>
        !(await exists(id)) && !marked(id) && (await Promise.all(ordered.map(snapshotThere))).some(Boolean),
      repair: async () => {
        for (const key of ordered) {
          await engine.snapshotter.remove(key).catch((e: unknown) => {
            if (!(e instanceof NotFound)) throw e;
          });
        }
        return 'removed';
      },
    });
  }
  for (const name of dirs) {
    if (ids.has(name) || making.has(name)) continue;
    const dir = path.join(root, name);
    if (!CONTAINER_ID.test(name) && !fs.lstatSync(dir).isDirectory()) continue;
    faults.push({
      kind: 'container-dir-orphan',
      path: dir,
      size: (await directoryUsage(dir).catch(() => ({ size: 0 }))).size,
      detail: 'no container row owns this directory',
      still: async () => fs.existsSync(dir) && !(await exists(name)) && !marked(name),
      repair: async () => {
        const kept = removeTreeNoCross(dir);
        if (kept.length > 0) throw new Error(`${kept[0]} is a mount point`);
        return 'removed';
      },
    });
  }

  for (const v of await engine.volumes.list()) {
    for (const user of engine.volumes.users(v.name)) {
      if (ids.has(user) || making.has(user)) continue;
      faults.push({
        kind: 'volume-ref-orphan',
        path: v.name,
        size: 0,
        detail: `held by container ${user.slice(0, 12)}, which does not exist`,
        still: async () => engine.volumes.users(v.name).includes(user) && !(await exists(user)) && !marked(user),
        repair: async () => {
          engine.volumes.release(v.name, user);
          return 'reference dropped';
        },
      });
    }
  }
  return faults;
}
