// docker load: docker-archive (manifest.json, as `docker save` writes it) and OCI image
// layouts (index.json). Every layer is verified against the config's diff_ids before any
// row is written; on any failure nothing of this load stays behind.
import type { Readable } from 'node:stream';
import { InvalidParameter } from '../errors.js';
import type { ImageConfig } from './types.js';
import type { ImageStore } from './service.js';
import { LayerTx } from './layer-store.js';
import { discard, layerFile, readArchive, smallFile, type ArchiveFiles } from './archive-reader.js';
import { familiar, normalizeTagged, parseNormalizedNamed } from './reference.js';
import { sha256 } from './digest.js';
import { Speculation } from './speculate.js';
import { formatBytes } from './format.js';
import { inOperation } from '../util/no-space.js';
import { heavyOperation } from '../util/release-memory.js';

export interface LoadOutput {
  /** A line for the user (Docker sends it as {"stream": …}). */
  stream(text: string): void;
  /** A progress message (`Loading layer`), only when not quiet. */
  progress(msg: Record<string, unknown>): void;
}

interface LoadEntry {
  config: Buffer;
  layers: string[];
  tags: string[];
  parent?: string;
}

export async function loadImages(store: ImageStore, input: Readable, out: LoadOutput): Promise<void> {
  const done = heavyOperation();
  try {
    await loadArchive(store, input, out);
  } finally {
    done();
  }
}

async function loadArchive(store: ImageStore, input: Readable, out: LoadOutput): Promise<void> {
  const speculation = new Speculation(store.layers, store.lock);
  let files: ArchiveFiles | undefined;
  try {
    files = await readArchive(input, store.layers, speculation);
    await speculation.placeRest();
    const entries = smallFile(files, 'manifest.json') ? dockerArchiveEntries(files) : ociEntries(files);
    let tagged = 0;
    let idLines = '';
    for (const e of entries) {
      const id = await loadOne(store, files, e, out);
      for (const t of e.tags) out.stream(`Loaded image: ${familiar(t)}\n`);
      tagged += e.tags.length;
      idLines += `Loaded image ID: ${id}\n`;
    }
    if (tagged === 0) out.stream(idLines);
  } catch (err) {
    input.destroy();
    throw inOperation('load', err, '', store.layers.content.ingestDir);
  } finally {
    // Layers extracted during the upload that no image took (e.g. a load that failed) go.
    await speculation.discard();
    if (files) await discard(files);
  }
}

async function loadOne(store: ImageStore, files: ArchiveFiles, e: LoadEntry, out: LoadOutput): Promise<string> {
  let config: ImageConfig;
  try {
    config = JSON.parse(e.config.toString('utf8')) as ImageConfig;
  } catch (err) {
    throw new InvalidParameter(`invalid image config: ${(err as Error).message}`);
  }
  const diffIDs = config.rootfs?.diff_ids ?? [];
  if (!Array.isArray(diffIDs) || diffIDs.some((d) => typeof d !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(d))) {
    throw new InvalidParameter('invalid image config: bad rootfs.diff_ids');
  }
  if (diffIDs.length !== e.layers.length) {
    throw new InvalidParameter(
      `invalid manifest, layers length mismatch: expected ${diffIDs.length}, got ${e.layers.length}`,
    );
  }
  return store.lock.run(async () => {
    const tx = new LayerTx(store.layers, { syncOnce: true });
    try {
      let parent: string | null = null;
      let applyError: { err: unknown } | undefined;
      for (const [i, diffID] of diffIDs.entries()) {
        const chain: string = parent === null ? diffID : sha256(`${parent} ${diffID}`);
        parent = chain;
        if (store.layers.get(chain)) continue;
        const staged = await layerFile(files, e.layers[i]!, store.layers);
        if (!staged) throw new InvalidParameter(`layer ${e.layers[i]} is missing from the archive`);
        // Extracted as it arrived and failed before its digest was known: its error stands for
        // it, as Docker's apply error comes before its diffID check.
        const unknown = staged.diffID === '' && staged.error !== undefined;
        if (staged.diffID !== diffID && !unknown)
          throw new InvalidParameter(`invalid diffID for layer ${i}: expected "${diffID}", got "${staged.diffID}"`);
        // Extracted as it arrived and found not to apply: the error its extraction would give.
        if (staged.error !== undefined) applyError ??= { err: staged.error };
        tx.staged.set(diffID, staged);
      }
      if (applyError) throw applyError.err;
      const before = tx.newLayers.length;
      const rows = await store.layers.ensure(diffIDs, tx);
      for (const l of tx.newLayers.slice(before)) {
        const n = tx.staged.get(l.diffID)?.rawSize ?? l.tarSize;
        out.progress({
          status: 'Loading layer',
          progressDetail: { current: n, total: n },
          progress: `[==================================================>] ${formatBytes(n).padStart(8)}/${formatBytes(n)}`,
          id: l.diffID.slice(7, 19),
        });
      }
      const parentId = e.parent && store.rows.get(e.parent) ? e.parent : undefined;
      const id = await store.commitImage({ config: e.config, tags: e.tags, parent: parentId }, rows, tx, (ref, old) => {
        out.stream(`The image ${familiar(ref)} already exists, renaming the old one with ID ${old} to empty string\n`);
      });
      store.deps.events.emitEvent('image', 'load', id, {});
      return id;
    } catch (err) {
      await tx.rollback();
      throw err;
    }
  });
}

function parseJson<T>(buf: Buffer | undefined, what: string): T {
  if (!buf) throw new InvalidParameter(`invalid archive: ${what} not found`);
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch (err) {
    throw new InvalidParameter(`invalid archive: ${what}: ${(err as Error).message}`);
  }
}

function tagsOf(list: unknown): string[] {
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list)) throw new InvalidParameter('invalid manifest: RepoTags');
  return list.map((t) => {
    const r = parseNormalizedNamed(String(t));
    if (!r.tag || r.digest) throw new InvalidParameter(`invalid tag "${t}"`);
    return normalizeTagged(String(t));
  });
}

function dockerArchiveEntries(files: ArchiveFiles): LoadEntry[] {
  const manifest = parseJson<
    { Config: string; RepoTags?: string[] | null; Layers?: string[] | null; Parent?: string }[]
  >(smallFile(files, 'manifest.json'), 'manifest.json');
  if (!Array.isArray(manifest)) throw new InvalidParameter('invalid archive: manifest.json is not a list');
  return manifest.map((m) => {
    const config = smallFile(files, String(m.Config));
    if (!config) throw new InvalidParameter(`invalid archive: config ${m.Config} not found`);
    // A layer-less image (Docker's emptyfs) is written with "Layers": null; dockerd reads it as none.
    const layers = m.Layers ?? [];
    if (!Array.isArray(layers)) throw new InvalidParameter('invalid manifest: Layers');
    return { config, layers: layers.map(String), tags: tagsOf(m.RepoTags), parent: m.Parent };
  });
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string };
}

const blobName = (d: Descriptor): string => {
  if (typeof d?.digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(d.digest))
    throw new InvalidParameter(`invalid descriptor digest ${d?.digest}`);
  return `blobs/sha256/${d.digest.slice(7)}`;
};

function ociEntries(files: ArchiveFiles): LoadEntry[] {
  if (!smallFile(files, 'index.json')) {
    throw new InvalidParameter('invalid archive: no manifest.json (docker-archive) or index.json (OCI layout) found');
  }
  const layout = parseJson<{ imageLayoutVersion?: string }>(smallFile(files, 'oci-layout'), 'oci-layout');
  if (layout.imageLayoutVersion !== '1.0.0')
    throw new InvalidParameter(`unsupported OCI layout version ${layout.imageLayoutVersion}`);
  const index = parseJson<{ manifests?: Descriptor[] }>(smallFile(files, 'index.json'), 'index.json');
  const out: LoadEntry[] = [];
  for (const desc of index.manifests ?? []) {
    const manifestDesc = pickManifest(files, desc);
    const raw = smallFile(files, blobName(manifestDesc));
    if (raw && sha256(raw) !== manifestDesc.digest)
      throw new InvalidParameter(`manifest ${manifestDesc.digest}: digest mismatch`);
    const manifest = parseJson<{ config: Descriptor; layers: Descriptor[] }>(raw, `manifest ${manifestDesc.digest}`);
    const config = smallFile(files, blobName(manifest.config));
    if (!config || sha256(config) !== manifest.config.digest)
      throw new InvalidParameter(`config ${manifest.config?.digest}: missing or digest mismatch`);
    const name =
      desc.annotations?.['io.containerd.image.name'] ?? desc.annotations?.['org.opencontainers.image.ref.name'];
    let tags: string[] = [];
    if (name) {
      try {
        const r = parseNormalizedNamed(name);
        if (r.tag && !r.digest) tags = [normalizeTagged(name)];
      } catch {
        /* a bare tag such as "latest" names no repository */
      }
    }
    const existing = out.find((e) => e.config.equals(config));
    if (existing) {
      existing.tags.push(...tags.filter((t) => !existing.tags.includes(t)));
      continue;
    }
    out.push({ config, layers: (manifest.layers ?? []).map(blobName), tags });
  }
  if (!out.length) throw new InvalidParameter('invalid archive: index.json lists no images');
  return out;
}

/** An index entry may be an image index itself: take its linux/amd64 manifest. */
function pickManifest(files: ArchiveFiles, desc: Descriptor, depth = 0): Descriptor {
  const mt = desc.mediaType ?? '';
  if (!mt.includes('index') && !mt.includes('manifest.list')) return desc;
  if (depth > 4) throw new InvalidParameter('invalid archive: nested indexes too deep');
  const idx = parseJson<{ manifests?: Descriptor[] }>(smallFile(files, blobName(desc)), `index ${desc.digest}`);
  const m = (idx.manifests ?? []).find(
    (d) => !d.platform || (d.platform.os === 'linux' && d.platform.architecture === 'amd64'),
  );
  if (!m) throw new InvalidParameter('invalid archive: no linux/amd64 image in index');
  return pickManifest(files, m, depth + 1);
}
