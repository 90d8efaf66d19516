// docker cp: HEAD/GET/PUT /containers/{id}/archive. Every path is resolved inside the
// container's root by the archive room (symlinks never leave it); request bodies are
// decompressed here, in this process, before anything touches the container's files: a
// container must never get to choose the decompressor (GHSA-x86f-5xw2-fm2r).
import { posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidParameter, NotFound, SystemError, StrataError } from '../errors.js';
import type { ContainerOpsDeps } from './ops-deps.js';
import type { PathStat } from '../archive/types.js';
import { extractTo, packPath, statPath } from '../archive/index.js';
import { decompressStages } from '../archive/compression.js';
import type { ContainerRecord } from './types.js';
import { chownTarEntries, containerUserIds } from './archive-ops-chown.js';

/** Go's os.ModeDir and os.ModeSymlink, as PathStat.mode carries them. */
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;

export const isDirStat = (s: PathStat): boolean => Math.floor(s.mode / MODE_DIR) % 2 === 1;
export const isSymlinkStat = (s: PathStat): boolean => Math.floor(s.mode / MODE_SYMLINK) % 2 === 1;

export { checkArchivePath, pathStatHeader } from './archive-path.js';

/** Turns the archive room's "no such file" into Docker's 404; other errors pass through. */
function fileError(err: unknown, path: string, ref: string): unknown {
  const code = (err as { code?: string })?.code;
  if (err instanceof NotFound || code === 'ENOENT')
    return new NotFound(`Could not find the file ${path} in container ${ref}`);
  if (code === 'ENOTDIR') return new SystemError(`lstat ${path}: not a directory`);
  if (!(err instanceof StrataError) && err instanceof Error && code) return new SystemError(err.message);
  return err;
}

export async function statContainerPath(engine: ContainerOpsDeps, ref: string, path: string): Promise<PathStat> {
  return engine.containers.withRootfs(ref, async (rootfs) => {
    try {
      return await statPath(rootfs, path);
    } catch (err) {
      throw fileError(err, path, ref);
    }
  });
}

/**
 * docker cp out. `onStat` runs before any byte of the tar, so the caller can still send the
 * header (or an error); the rootfs stays mounted until the whole tar has been written to `out`.
 */
export async function copyFromContainer(
  engine: ContainerOpsDeps,
  ref: string,
  path: string,
  onStat: (stat: PathStat) => void,
  out: Writable,
): Promise<void> {
  await engine.containers.withRootfs(ref, async (rootfs, rec) => {
    let packed: { stat: PathStat; stream: Readable };
    try {
      packed = await packPath(rootfs, path);
    } catch (err) {
      throw fileError(err, path, ref);
    }
    emitArchiveEvent(engine, 'archive-path', rec);
    onStat(packed.stat);
    await pipeline(packed.stream, out);
  });
}

export interface ExtractOptions {
  noOverwriteDirNonDir: boolean;
  copyUIDGID: boolean;
}

/** docker cp in: `body` is a tar (plain, gzip, zstd…) to unpack into directory `path`. */
export async function copyToContainer(
  engine: ContainerOpsDeps,
  ref: string,
  path: string,
  body: Readable,
  opts: ExtractOptions,
): Promise<void> {
  await engine.containers.withRootfs(ref, async (rootfs, rec) => {
    const absPath = await extractionPoint(rootfs, path, ref);
    checkWritable(rec, absPath);
    const { stream, stages } = await decompressStages(body);
    let tar: Readable = stream;
    for (const stage of stages) {
      const upstream = tar;
      upstream.once('error', (err) => stage.destroy(err));
      tar = upstream.pipe(stage);
    }
    if (opts.copyUIDGID) {
      const ids = containerUserIds(rootfs, String(rec.config.User ?? ''));
      tar = chownTarEntries(tar, ids);
    }
    try {
      await extractTo(rootfs, absPath, tar, { noOverwriteDirNonDir: opts.noOverwriteDirNonDir });
    } catch (err) {
      throw fileError(err, path, ref);
    }
    // What dockerd logs, and what tells the usage cache that a stopped container's layer changed.
    emitArchiveEvent(engine, 'extract-to-dir', rec);
  });
}

/** Docker's events for docker cp: archive-path (out) and extract-to-dir (in); a stat (HEAD) has none. */
function emitArchiveEvent(
  engine: ContainerOpsDeps,
  action: 'archive-path' | 'extract-to-dir',
  rec: ContainerRecord,
): void {
  engine.events.emitEvent('container', action, rec.id, {
    ...(rec.config.Labels ?? {}),
    image: rec.imageRef,
    name: rec.name,
  });
}

/**
 * The directory a PUT extracts into, as an absolute path in the container with every symlink
 * followed (inside the root): Docker extracts through a link to a directory.
 */
async function extractionPoint(rootfs: string, path: string, ref: string): Promise<string> {
  let current = posix.resolve('/', path);
  for (let hops = 0; hops < 40; hops++) {
    let stat: PathStat;
    try {
      stat = await statPath(rootfs, current);
    } catch (err) {
      throw fileError(err, path, ref);
    }
    if (isSymlinkStat(stat) && stat.linkTarget) {
      // statPath already resolved the target inside the root; it is absolute there.
      current = posix.resolve(posix.dirname(current), stat.linkTarget);
      continue;
    }
    if (!isDirStat(stat)) throw new InvalidParameter('extraction point is not a directory');
    return current;
  }
  throw new SystemError(`too many levels of symbolic links: ${path}`);
}

/** A read-only rootfs takes files only into writable mounts; a read-only mount takes none. */
function checkWritable(rec: ContainerRecord, absPath: string): void {
  let toVolume = false;
  for (const m of rec.mounts) {
    // Plain prefix test, as dockerd does it.
    if (!absPath.startsWith(m.destination)) continue;
    if (m.readOnly) throw new InvalidParameter('mounted volume is marked read-only');
    toVolume = true;
  }
  if (!toVolume && rec.hostConfig?.ReadonlyRootfs) throw new InvalidParameter('container rootfs is marked read-only');
}
