// Snapshots, layers, their tars and the images and tags that name them, both ways: rows whose
// data is gone and data no row names. Layers are repaired from what is left of them: a layer
// whose snapshot is gone (or damaged) is extracted again from its tar, a layer whose tar is gone
// gets it back by packing its snapshot, if that gives the same diffID. A layer with neither
// cannot be made again: the check says which images must be loaded again.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { applyLayer, exportLayer } from '../../archive/index.js';
import { LayerMismatch, rebuildLayer } from '../../archive/tar-rebuild.js';
import { ContentStore } from '../../content/store.js';
import { removeTreeNoCross } from '../../mount/scratch.js';
import { directoryUsage } from '../../snapshot/usage.js';
import { verifyLayer } from './layer-verify.js';
import type { CheckEnv, Fault } from './types.js';
import { count, remover } from './types.js';

interface SnapRow {
  id: number;
  key: string;
  kind: string;
  parent_id: number | null;
  created: number;
}
interface LayerRow {
  chain_id: string;
  diff_id: string;
  parent: string | null;
}

const LAYER_NAME = /^sha256:[a-f0-9]{64}$/;
const CONTAINER_KEY = /^container-([0-9a-f]{64})(-init(-prepare)?|-image-\d+)?$/;
const sizeOf = async (p: string) => (await directoryUsage(p).catch(() => ({ size: 0 }))).size;

export async function checkLayers(env: CheckEnv): Promise<Fault[]> {
  const { engine } = env;
  const db = engine.db;
  const sn = engine.snapshotter;
  const content = path.join(env.dataRoot, 'content');
  const blobPath = (digest: string) => path.join(content, 'blobs', 'sha256', digest.slice('sha256:'.length));
  // A layer kept as its files plus a tar-split record (image/tar-split-store.ts) has no blob.
  const recordPath = (digest: string) => path.join(content, 'tar-split', `${digest.slice('sha256:'.length)}.gz`);
  // Directories first, rows second: a snapshot made in between has its row by the time rows are read.
  const dirs = fs.existsSync(env.snapshotRoot) ? fs.readdirSync(env.snapshotRoot) : [];
  const snaps = db
    .prepare('SELECT id, key, kind, parent_id, created FROM snapshots WHERE driver = ?')
    .all(sn.driver) as SnapRow[];
  const layers = db.prepare('SELECT chain_id, diff_id, parent FROM image_layers').all() as LayerRow[];
  count(env, 'snapshots', snaps.length);
  count(env, 'layers', layers.length);
  const byKey = new Map(snaps.map((s) => [s.key, s]));
  const byId = new Map(snaps.map((s) => [s.id, s]));
  const layerByChain = new Map(layers.map((l) => [l.chain_id, l]));
  const rowOf = (key: string) =>
    db.prepare('SELECT id FROM snapshots WHERE driver = ? AND key = ?').get(sn.driver, key) as
      { id: number } | undefined;
  const hasChildren = (key: string) => {
    const r = rowOf(key);
    return r !== undefined && db.prepare('SELECT 1 FROM snapshots WHERE parent_id = ? LIMIT 1').get(r.id) !== undefined;
  };
  const dirOf = (id: number) => path.join(env.snapshotRoot, String(id));
  const faults: Fault[] = [];

  // What running containers stand on: never rewritten under them.
  const inUse = new Set<number>();
  for (const c of (await engine.containers.list()).filter((x) => x.state.Running)) {
    for (let s = byKey.get(c.snapshotKey); s; s = s.parent_id === null ? undefined : byId.get(s.parent_id))
      inUse.add(s.id);
  }

  const reextract = async (l: LayerRow): Promise<string> => {
    if (!fs.existsSync(blobPath(l.diff_id)))
      throw new Error(
        fs.existsSync(recordPath(l.diff_id))
          ? `its tar ${l.diff_id} is kept only as a record of those files: remove the images using it and load them again`
          : `its tar ${l.diff_id} is gone too: remove the images using it and load them again`,
      );
    if (l.parent && !rowOf(l.parent)) throw new Error(`its parent layer ${l.parent} has no snapshot either`);
    const key = `extract-repair-${randomBytes(8).toString('hex')}`;
    await sn.prepare(key, l.parent ?? undefined);
    try {
      const target = await sn.applyTarget(key);
      const res = await applyLayer(fs.createReadStream(blobPath(l.diff_id), { highWaterMark: 1 << 20 }), target.dir, {
        whiteouts: target.whiteouts,
      });
      if (res.diffID !== l.diff_id) throw new Error(`its tar gives ${res.diffID}`);
      await sn.commit(l.chain_id, key);
    } catch (err) {
      await sn.remove(key).catch(() => undefined);
      throw err;
    }
    return 'extracted again from its tar';
  };

  if (env.quiet) {
    const owned = new Set(snaps.map((s) => String(s.id)));
    for (const name of dirs) {
      if (owned.has(name)) continue;
      const p = path.join(env.snapshotRoot, name);
      faults.push({
        kind: 'snapshot-dir-orphan',
        path: p,
        size: await sizeOf(p),
        detail: 'no snapshot row owns this directory',
        still: () =>
          fs.existsSync(p) &&
          !(db.prepare('SELECT 1 FROM snapshots WHERE id = ?').get(Number(name)) && /^\d+$/.test(name)),
        repair: async () => {
          const kept = removeTreeNoCross(p);
          if (kept.length > 0) throw new Error(`${kept[0]} is a mount point`);
          return 'removed';
        },
      });
    }
  } else {
    env.skipped.push(
      'snapshot directories without a row, interrupted extractions and layer snapshots without a layer: other requests were in flight',
    );
  }

  for (const s of snaps) {
    const p = dirOf(s.id);
    if (!fs.existsSync(path.join(p, 'fs'))) {
      const container = CONTAINER_KEY.exec(s.key);
      const layer = layerByChain.get(s.key);
      const f: Fault = {
        kind: 'snapshot-dir-missing',
        path: p,
        size: 0,
        detail: `snapshot ${s.key} (${s.kind}) has no directory`,
        still: () => rowOf(s.key) !== undefined && !fs.existsSync(path.join(p, 'fs')),
      };
      if (container) {
        f.repair = async () => {
          const rec = (await engine.containers.list()).find((c) => c.id === container[1]);
          if (rec?.state.Running) throw new Error('its container is running');
          if (rec) {
            await remover(env).remove(rec.id, { force: true });
            return `its files are gone: container ${rec.id.slice(0, 12)} removed (nothing else can be done)`;
          }
          await sn.remove(s.key);
          return 'row dropped';
        };
      } else if (layer) {
        f.repair = async () => {
          if (hasChildren(s.key))
            throw new Error(
              'layers or containers are built on it: remove them, then the images using it, and load those again',
            );
          await sn.remove(s.key);
          return `row dropped; ${await reextract(layer)}`;
        };
      } else {
        f.repair = async () => {
          if (hasChildren(s.key)) throw new Error('other snapshots are built on it');
          await sn.remove(s.key);
          return 'its files are gone: row dropped (nothing else can be done)';
        };
      }
      faults.push(f);
      continue;
    }
    if (!env.quiet) continue;
    if (s.kind === 'active' && s.key.startsWith('extract-')) {
      faults.push({
        kind: 'snapshot-incomplete',
        path: p,
        size: await sizeOf(p),
        detail: `${s.key}: a layer extraction that never finished`,
        still: () => rowOf(s.key) !== undefined,
        repair: async () => {
          await sn.remove(s.key);
          return 'removed';
        },
      });
    } else if (s.kind === 'committed' && LAYER_NAME.test(s.key) && !layerByChain.has(s.key)) {
      faults.push({
        kind: 'layer-snapshot-orphan',
        path: p,
        size: await sizeOf(p),
        detail: `layer snapshot ${s.key} no layer row names`,
        still: () =>
          rowOf(s.key) !== undefined && !db.prepare('SELECT 1 FROM image_layers WHERE chain_id = ?').get(s.key),
        repair: async () => {
          if (hasChildren(s.key)) throw new Error('other snapshots are built on it');
          await sn.remove(s.key);
          return 'removed';
        },
      });
    }
  }

  const store = new ContentStore(content);
  for (const l of layers) {
    const snap = byKey.get(l.chain_id);
    const blob = blobPath(l.diff_id);
    if (!snap) {
      faults.push({
        kind: 'layer-snapshot-missing',
        path: blob,
        size: 0,
        detail: `layer ${l.chain_id} has no snapshot`,
        still: () => rowOf(l.chain_id) === undefined && layerExists(env, l.chain_id),
        repair: () => reextract(l),
      });
      continue;
    }
    const record = recordPath(l.diff_id);
    if (!fs.existsSync(blob) && fs.existsSync(record)) {
      if (env.quick || !fs.existsSync(path.join(dirOf(snap.id), 'fs'))) continue;
      const fsDir = path.join(dirOf(snap.id), 'fs');
      const verify = () =>
        verifyLayer(() => rebuildLayer(fs.readFileSync(record), fsDir, l.diff_id, l.chain_id), l.diff_id, fsDir).catch(
          (e: Error) => (e instanceof LayerMismatch ? e.message : `cannot be read: ${e.message}`),
        );
      const problem = await verify();
      count(env, 'layers verified', 1);
      if (!problem) continue;
      faults.push({
        kind: 'layer-corrupt',
        path: fsDir,
        size: 0,
        detail: `layer ${l.chain_id}: ${problem}`,
        still: async () => layerExists(env, l.chain_id) && fs.existsSync(record) && (await verify()) !== undefined,
        left: 'its files no longer give back its tar: remove the images using it and load or pull them again',
      });
      continue;
    }
    if (!fs.existsSync(blob)) {
      faults.push({
        kind: 'layer-blob-missing',
        path: blob,
        size: 0,
        detail: `layer ${l.chain_id}: its tar ${l.diff_id} is gone`,
        still: () => !fs.existsSync(blob) && layerExists(env, l.chain_id),
        repair: async () => {
          try {
            await store.ingest(exportLayer(await sn.diffSource(l.chain_id)), l.diff_id);
          } catch (err) {
            throw new Error(
              `packing its snapshot does not give ${l.diff_id} (${(err as Error).message}): remove the images using it and load them again`,
            );
          }
          return 'packed again from its snapshot (same diffID)';
        },
      });
      continue;
    }
    if (env.quick || !fs.existsSync(path.join(dirOf(snap.id), 'fs'))) continue;
    const fsDir = path.join(dirOf(snap.id), 'fs');
    const problem = await verifyLayer(blob, l.diff_id, fsDir).catch((e: Error) => `cannot be read: ${e.message}`);
    count(env, 'layers verified', 1);
    if (!problem) continue;
    const tarBad = problem.startsWith('its tar');
    faults.push({
      kind: 'layer-corrupt',
      path: tarBad ? blob : fsDir,
      size: fs.statSync(blob).size,
      detail: `layer ${l.chain_id}: ${problem}`,
      still: async () =>
        layerExists(env, l.chain_id) &&
        (await verifyLayer(blob, l.diff_id, fsDir).catch(() => 'unreadable')) !== undefined,
      ...(tarBad
        ? { left: 'its tar is damaged: remove the images using it and load them again' }
        : {
            repair: async () => {
              if (inUse.has(snap.id)) throw new Error('a running container stands on it: stop it first');
              const res = await applyLayer(fs.createReadStream(blob, { highWaterMark: 1 << 20 }), fsDir, {
                whiteouts: sn.driver === 'overlay2' ? 'overlay' : sn.driver === 'fuse-overlayfs' ? 'aufs' : 'naive',
              });
              if (res.diffID !== l.diff_id) throw new Error(`its tar gives ${res.diffID}`);
              const again = await verifyLayer(blob, l.diff_id, fsDir);
              if (again) throw new Error(`still damaged after applying its tar again: ${again}`);
              return 'its tar applied again over the snapshot';
            },
          }),
    });
  }

  // Images and tags.
  const images = db.prepare('SELECT id, top_chain_id FROM images').all() as {
    id: string;
    top_chain_id: string | null;
  }[];
  count(env, 'images', images.length);
  for (const im of images) {
    if (im.top_chain_id && !layerByChain.has(im.top_chain_id)) {
      faults.push({
        kind: 'image-layer-missing',
        path: im.id,
        size: 0,
        detail: `image ${im.id.slice(7, 19)}: its layer ${im.top_chain_id} has no row`,
        still: () =>
          !layerExists(env, im.top_chain_id!) &&
          db.prepare('SELECT 1 FROM images WHERE id = ?').get(im.id) !== undefined,
        left: 'remove the image and load it again',
      });
    }
  }
  const dangling = db
    .prepare('SELECT ref, image_id FROM image_refs WHERE image_id NOT IN (SELECT id FROM images)')
    .all() as { ref: string; image_id: string }[];
  count(env, 'tags', (db.prepare('SELECT COUNT(*) FROM image_refs').pluck().get() as number) ?? 0);
  for (const t of dangling) {
    faults.push({
      kind: 'tag-dangling',
      path: t.ref,
      size: 0,
      detail: `names image ${t.image_id}, which does not exist`,
      still: () =>
        db
          .prepare(
            'SELECT 1 FROM image_refs r WHERE ref = ? AND NOT EXISTS (SELECT 1 FROM images i WHERE i.id = r.image_id)',
          )
          .get(t.ref) !== undefined,
      repair: async () => {
        db.prepare('DELETE FROM image_refs WHERE ref = ?').run(t.ref);
        return 'tag dropped';
      },
    });
  }

  // Content: half ingests, and blobs no layer names.
  if (env.quiet) {
    const ingest = path.join(content, 'ingest');
    for (const name of fs.existsSync(ingest) ? fs.readdirSync(ingest) : []) {
      const p = path.join(ingest, name);
      faults.push({
        kind: 'ingest-leftover',
        path: p,
        size: await sizeOf(p),
        detail: 'a blob write that never finished',
        still: () => fs.existsSync(p),
        repair: async () => {
          fs.rmSync(p, { recursive: true, force: true });
          return 'removed';
        },
      });
    }
    const diffIDs = new Set(layers.map((l) => l.diff_id));
    const blobs = fs.existsSync(path.join(content, 'blobs', 'sha256'))
      ? fs.readdirSync(path.join(content, 'blobs', 'sha256'))
      : [];
    count(env, 'blobs', blobs.length);
    for (const hex of blobs) {
      if (diffIDs.has(`sha256:${hex}`)) continue;
      const p = path.join(content, 'blobs', 'sha256', hex);
      faults.push({
        kind: 'blob-orphan',
        path: p,
        size: fs.statSync(p).size,
        detail: 'no layer names this blob',
        still: () =>
          fs.existsSync(p) && !db.prepare('SELECT 1 FROM image_layers WHERE diff_id = ?').get(`sha256:${hex}`),
        repair: async () => {
          fs.rmSync(p, { force: true });
          return 'removed';
        },
      });
    }
    const recordDir = path.join(content, 'tar-split');
    for (const name of fs.existsSync(recordDir) ? fs.readdirSync(recordDir) : []) {
      const m = /^([a-f0-9]{64})\.gz$/.exec(name);
      if (m && diffIDs.has(`sha256:${m[1]}`)) continue;
      const p = path.join(recordDir, name);
      faults.push({
        kind: 'blob-orphan',
        path: p,
        size: fs.statSync(p).size,
        detail: 'no layer names this tar-split record',
        still: () =>
          fs.existsSync(p) && !(m && db.prepare('SELECT 1 FROM image_layers WHERE diff_id = ?').get(`sha256:${m[1]}`)),
        repair: async () => {
          fs.rmSync(p, { force: true });
          return 'removed';
        },
      });
    }
  } else {
    env.skipped.push('ingests and blobs without a layer: other requests were in flight');
  }
  return faults;
}

const layerExists = (env: CheckEnv, chainID: string) =>
  env.engine.db.prepare('SELECT 1 FROM image_layers WHERE chain_id = ?').get(chainID) !== undefined;
