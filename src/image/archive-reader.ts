// Reads an image archive (docker-archive or OCI image layout) as it streams in: small files
// (manifests, configs) are kept in memory, large ones (layers) go straight to an ingest as
// uncompressed bytes, so no layer is ever held in memory. Entry names are only keys here:
// nothing of the outer archive is written to disk under its own name.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { InvalidParameter } from '../errors.js';
import { isNoSpace } from '../util/no-space.js';
import type { LayerStore, StagedLayer } from './layer-store.js';
import type { Speculation } from './speculate.js';

/** Files up to this size stay in memory (configs, manifests, tiny layers), within a total budget. */
const SMALL_FILE = 1 << 20;
const SMALL_BUDGET = 64 << 20;
/** The largest manifest or config read back from disk. */
const MAX_JSON = 32 << 20;

export interface ArchiveFiles {
  small: Map<string, Buffer>;
  staged: Map<string, StagedLayer>;
  links: Map<string, string>;
}

export function cleanName(name: string): string {
  const n = path.posix.normalize('/' + name).slice(1);
  return n.replace(/\/$/, '');
}

/** `speculation`, when given, sees every small file and stages the large ones (extracting them when it can). */
export async function readArchive(
  input: Readable,
  layers: LayerStore,
  speculation?: Speculation,
): Promise<ArchiveFiles> {
  const files: ArchiveFiles = { small: new Map(), staged: new Map(), links: new Map() };
  let budget = SMALL_BUDGET;
  const extract = tarStream.extract();
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract);
  try {
    for await (const entry of extract) {
      const name = cleanName(entry.header.name);
      const type = entry.header.type;
      if (type === 'symlink' || type === 'link') {
        const target =
          type === 'symlink'
            ? path.posix.join(path.posix.dirname(name), entry.header.linkname ?? '')
            : (entry.header.linkname ?? '');
        files.links.set(name, cleanName(target));
        entry.resume();
        continue;
      }
      if (type !== 'file' && type !== 'contiguous-file') {
        entry.resume();
        continue;
      }
      const size = entry.header.size ?? 0;
      if (size <= SMALL_FILE && size <= budget) {
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        const data = Buffer.concat(chunks);
        files.small.set(name, data);
        speculation?.noteFile(name, data);
        budget -= size;
      } else {
        const body = entry as unknown as Readable;
        const staged = speculation ? await speculation.stage(name, body) : await layers.stage(body);
        // The same object the speculation keeps: a staged copy it writes later (a fallback) shows here.
        staged.rawSize = size;
        files.staged.set(name, staged);
      }
    }
  } catch (err) {
    await discard(files);
    extract.destroy();
    input.destroy();
    // A full disk is no fault of the archive's.
    if (isNoSpace(err)) throw err;
    throw new InvalidParameter(`invalid archive: ${(err as Error).message}`);
  }
  return files;
}

export function resolveName(files: ArchiveFiles, name: string): string {
  let n = cleanName(name);
  for (let i = 0; i < 16 && files.links.has(n); i++) n = files.links.get(n)!;
  return n;
}

/** A JSON-sized file of the archive (manifest, config); a large one is read back from its ingest. */
export function smallFile(files: ArchiveFiles, name: string): Buffer | undefined {
  const n = resolveName(files, name);
  const small = files.small.get(n);
  if (small) return small;
  const staged = files.staged.get(n);
  // Configs are never compressed, so the staged (uncompressed) bytes are the file's bytes.
  if (staged && staged.writer && staged.tarSize <= MAX_JSON) return fs.readFileSync(staged.path);
  return undefined;
}

/** The staged uncompressed bytes of a layer file, staging it now if it was kept in memory. */
export async function layerFile(
  files: ArchiveFiles,
  name: string,
  layers: LayerStore,
): Promise<StagedLayer | undefined> {
  const n = resolveName(files, name);
  const staged = files.staged.get(n);
  if (staged) return staged;
  const buf = files.small.get(n);
  if (!buf) return undefined;
  const s = { ...(await layers.stage(Readable.from([buf]))), rawSize: buf.length };
  files.staged.set(n, s);
  return s;
}

export async function discard(files: ArchiveFiles): Promise<void> {
  for (const s of files.staged.values()) await s.writer?.abort().catch(() => {});
  files.staged.clear();
}
