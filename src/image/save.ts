// docker save: the docker-archive format Docker writes (manifest.json, repositories,
// <config hex>.json, <layer>/layer.tar). Layer tars are the original bytes kept at load or
// commit time, so loading the result anywhere gives the same diffIDs, chainIDs and image ID.
import fs from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import { InvalidParameter, NotFound } from '../errors.js';
import type { ImageStore } from './service.js';
import type { ImageRow } from './image-db.js';
import { familiar, parseNormalizedNamed, repositoryOf } from './reference.js';

interface Assoc {
  row: ImageRow;
  refs: string[];
}

/** Which images (and which of their tags) the names select, as Docker's tarexporter does. */
export function selectImages(store: ImageStore, names: string[]): Assoc[] {
  const out: Assoc[] = [];
  const add = (row: ImageRow, ref?: string) => {
    let a = out.find((x) => x.row.id === row.id);
    if (!a) {
      a = { row, refs: [] };
      out.push(a);
    }
    if (ref && !a.refs.includes(ref)) a.refs.push(ref);
  };
  for (const name of names) {
    if (/^sha256:[a-f0-9]{64}$/.test(name) || /^[a-f0-9]{64}$/.test(name)) {
      add(store.findRow(name));
      continue;
    }
    let parsed;
    try {
      parsed = parseNormalizedNamed(name);
    } catch (err) {
      if (/^(sha256:)?[a-f0-9]+$/.test(name)) {
        add(store.findRow(name));
        continue;
      }
      throw err;
    }
    if (!parsed.tag && !parsed.digest) {
      const refs = store.rows.allRefs().filter((r) => repositoryOf(r.ref) === parsed.name);
      for (const r of refs) add(store.rows.get(r.imageId)!, r.ref);
      if (!refs.length) {
        try {
          add(store.findRow(name));
        } catch (err) {
          if (err instanceof NotFound) throw new NotFound(`No such image: ${name}`);
          throw err;
        }
      }
      continue;
    }
    const full = parsed.digest ? `${parsed.name}@${parsed.digest}` : `${parsed.name}:${parsed.tag}`;
    const id = store.rows.lookupRef(full);
    if (!id) throw new NotFound('reference does not exist');
    add(store.rows.get(id)!, full);
  }
  if (!out.length) throw new InvalidParameter('no images to save');
  return out;
}

/**
 * Fails where a layer of the images cannot be given back (LayerMismatch names it and why), before
 * anything is sent: dockerd assembles the whole archive before it answers, so a damaged layer
 * gets an error response rather than a cut stream. Only a file changed in place at its own size
 * gets past this; the digest check of the stream catches it, after the answer has begun.
 */
export async function checkSaveable(store: ImageStore, assocs: Assoc[]): Promise<void> {
  const seen = new Set<string>();
  for (const { row } of assocs)
    for (const l of store.layerRowsOf(row)) {
      if (seen.has(l.diffID)) continue;
      seen.add(l.diffID);
      await store.layers.checkTar(l.diffID);
    }
}

export function saveImages(store: ImageStore, assocs: Assoc[]): Readable {
  const pack = tarStream.pack();
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  void (async () => {
    const mtime = new Date(0);
    const written = new Set<string>();
    const manifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    const addFile = (name: string, data: Buffer) =>
      new Promise<void>((resolve, reject) => {
        pack.entry({ name, size: data.length, mode: 0o644, mtime }, data, (err) => (err ? reject(err) : resolve()));
      });
    for (const { row, refs } of assocs) {
      const layers = store.layerRowsOf(row);
      // The config goes first and the layers follow in order: a loader can then extract each
      // layer as it arrives (Strata's own load does), instead of staging them all first.
      const configName = `${row.id.slice(7)}.json`;
      if (!written.has(configName)) {
        written.add(configName);
        await addFile(configName, row.config);
      }
      const layerPaths: string[] = [];
      for (const l of layers) {
        const dir = l.diffID.slice(7);
        layerPaths.push(`${dir}/layer.tar`);
        if (written.has(dir)) continue;
        written.add(dir);
        await new Promise<void>((resolve, reject) => {
          pack.entry({ name: `${dir}/`, type: 'directory', mode: 0o755, mtime }, (err) =>
            err ? reject(err) : resolve(),
          );
        });
        await addFile(`${dir}/VERSION`, Buffer.from('1.0'));
        // A blob, or the tar rebuilt from the layer's files and tar-split record (checked
        // against the diffID as it goes: a damaged layer fails the save).
        const size = store.content.has(l.diffID) ? fs.statSync(store.content.blobPath(l.diffID)).size : l.tarSize;
        const tar = store.layers.readTar(l.diffID);
        await new Promise<void>((resolve, reject) => {
          const entry = pack.entry({ name: `${dir}/layer.tar`, size, mode: 0o644, mtime }, (err) =>
            err ? reject(err) : resolve(),
          );
          pipeline(tar, entry).catch(reject);
        });
      }
      const tags = refs.filter((r) => !r.includes('@'));
      manifest.push({ Config: configName, RepoTags: tags.length ? tags.map(familiar) : null, Layers: layerPaths });
      const top = layers[layers.length - 1];
      for (const t of tags) {
        const f = familiar(t);
        const i = f.lastIndexOf(':');
        (repositories[f.slice(0, i)] ??= {})[f.slice(i + 1)] = top ? top.diffID.slice(7) : '';
      }
    }
    await addFile('manifest.json', Buffer.from(JSON.stringify(manifest)));
    if (Object.keys(repositories).length) await addFile('repositories', Buffer.from(JSON.stringify(repositories)));
    pack.finalize();
  })().catch((err: Error) => pack.destroy(err));
  pipeline(pack, out).catch((err: Error) => out.destroy(err));
  return out;
}
