// Reads an image archive (docker-archive or OCI image layout) as it streams in: small files
// (manifests, configs) are kept in memory, large ones (layers) go straight to an ingest as
// uncompressed bytes, so no layer is ever held in memory. Entry names are only keys here:
// nothing of the outer archive is written to disk under its own name.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { InvalidParameter } from '../errors.js';
import { isNoSpace } from '../util/no-space.js';
import type { LayerStore, StagedLayer } from './layer-store.js';
import type { Speculation } from './speculate.js';
import { ArchiveTarReader, type TarEntrySink } from './archive-tar.js';

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
  // The large file being staged: its bytes go into `body`, and the next entry waits for `staging`.
  let body: Readable | undefined;
  let staging: Promise<void> | undefined;
  // The input flows only while nothing holds it: a full body, or an entry's end still settling.
  let fullBody = false;
  let waiting = false;
  let failed = false;
  let fail!: (err: unknown) => void;
  let succeed!: () => void;
  const finished = new Promise<void>((resolve, reject) => {
    succeed = resolve;
    fail = reject;
  });
  const flow = () => {
    if (!fullBody && !waiting && !failed) input.resume();
  };

  const stageLarge = (name: string, size: number): TarEntrySink => {
    const b = new Readable({
      highWaterMark: 1 << 20,
      read() {
        fullBody = false;
        flow();
      },
    });
    body = b;
    staging = (speculation ? speculation.stage(name, b) : layers.stage(b)).then((staged) => {
      // The same object the speculation keeps: a staged copy it writes later (a fallback) shows here.
      staged.rawSize = size;
      files.staged.set(name, staged);
    });
    const mine = staging;
    // A failure (a full disk) may come while the bytes still arrive: the load ends at once.
    mine.catch((err: unknown) => fail(err));
    return {
      data(chunk) {
        if (!b.push(chunk)) {
          fullBody = true;
          input.pause();
        }
      },
      end() {
        b.push(null);
        // An ended body asks for nothing more: from here its staging holds the next entry back.
        fullBody = false;
        return mine.finally(() => {
          body = undefined;
          staging = undefined;
        });
      },
    };
  };

  const reader = new ArchiveTarReader((h): TarEntrySink | null => {
    const name = cleanName(h.name);
    if (h.type === 'symlink' || h.type === 'link') {
      const target =
        h.type === 'symlink' ? path.posix.join(path.posix.dirname(name), h.linkname ?? '') : (h.linkname ?? '');
      files.links.set(name, cleanName(target));
      return null;
    }
    if (h.type !== 'file' && h.type !== 'contiguous-file') return null;
    const size = h.size ?? 0;
    if (size > SMALL_FILE || size > budget) return stageLarge(name, size);
    budget -= size;
    const data = Buffer.allocUnsafe(size);
    let filled = 0;
    return {
      data(chunk) {
        filled += chunk.copy(data, filled);
      },
      end() {
        files.small.set(name, data);
        speculation?.noteFile(name, data);
      },
    };
  });

  const onData = (chunk: Buffer) => {
    if (failed) return;
    let wait: void | Promise<void>;
    try {
      wait = reader.feed(chunk);
    } catch (err) {
      return fail(err);
    }
    if (!wait) return;
    waiting = true;
    input.pause();
    held = wait.then(() => {
      waiting = false;
      flow();
    });
    held.catch(fail);
  };
  // The last entry's end may still be settling when the input ends.
  let held: Promise<void> = Promise.resolve();
  let ended = false;
  const onEnd = () => {
    ended = true;
    held
      .then(() => {
        reader.end();
        succeed();
      }, fail)
      .catch(fail);
  };
  input.on('data', onData);
  input.once('end', onEnd);
  input.once('error', (err) => fail(err));
  input.once('close', () => {
    if (!ended) fail(new Error('Premature close'));
  });
  try {
    await finished;
  } catch (err) {
    failed = true;
    input.off('data', onData);
    input.on('error', () => {});
    input.destroy();
    // The layer being staged goes with its bytes; its staging cleans up after itself.
    body?.on('error', () => {}); // its staging (if still reading) hears it; nobody else need
    body?.destroy(err as Error);
    await staging?.catch(() => {});
    await discard(files);
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
