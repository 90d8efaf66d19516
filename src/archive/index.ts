// The archive room's public surface. Everything here is confined to the directory it is
// given: no tar entry, symlink or hardlink may reach outside it.
import { closeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { applyLayerOffThread, warmApplyWorker } from './apply-thread.js';
import { naiveChanges, naiveChangesUsage as naiveChangesUsageImpl, openDir, overlayChanges } from './changes.js';
import {
  extractTo as extractToImpl,
  packPath as packPathImpl,
  statPath as statPathImpl,
  type ExtractOptions,
} from './copy.js';
import { exportLayer as exportLayerImpl, exportLayerSized as exportLayerSizedImpl } from './export.js';
import { extractUntrusted as extractUntrustedImpl, type UntrustedSummary } from './import.js';
import { tarStream, treeItems } from './pack.js';
import type { ApplyOptions, ApplyResult, Change, DiffSource, PathStat } from './types.js';

export type { ApplyOptions, ApplyResult, Change, DiffSource, PathStat } from './types.js';
export type { ExtractOptions } from './copy.js';
export type { RootAttributes, UntrustedSummary } from './import.js';

/**
 * Extracts an archive from outside any image (a volume import) into the empty directory `dir`,
 * refusing (InvalidParameter) absolute or `..` names, device nodes, hardlinks out, symlinks that
 * leave `dir` and entries under symlinks; owners, modes, xattrs, hardlinks and holes are kept.
 */
export async function extractUntrusted(input: Readable, dir: string): Promise<UntrustedSummary> {
  return extractUntrustedImpl(input, dir);
}

/**
 * Applies a layer tar (plain, gzip or zstd, detected by content) onto `dir`; hashes the
 * uncompressed stream as its diffID. The unpacking runs on a worker thread (apply-thread.ts).
 */
export async function applyLayer(input: Readable, dir: string, opts: ApplyOptions): Promise<ApplyResult> {
  return applyLayerOffThread(input, dir, opts);
}

/**
 * A layer is about to be applied (a commit waiting for its container's teardown): the thread
 * applyLayer runs on is started now, so its start-up overlaps the wait.
 */
export function prepareLayerApply(): void {
  warmApplyWorker(30_000);
}

/**
 * applyLayer of a layer tar stored in the file `file` (plain, gzip or zstd), read by the
 * unpacking thread itself: nothing of it passes through the caller's thread; `onProgress` is told
 * how many of the file's bytes were read as it goes. Aborting `signal` fails the apply (its
 * reason is the error) once the thread has stopped writing.
 */
export async function applyLayerFile(
  file: string,
  dir: string,
  opts: ApplyOptions,
  onProgress?: (bytesRead: number) => void,
  signal?: AbortSignal,
): Promise<ApplyResult> {
  return applyLayerOffThread({ file, signal }, dir, opts, onProgress);
}

/** A layer tar of what `src` changed (whiteouts as .wh. entries), as Docker would export it. */
export function exportLayer(src: DiffSource): Readable {
  return exportLayerImpl(src);
}

/** exportLayer, with the layer's DiffSize (Docker's layer size) known once the stream has ended. */
export function exportLayerSized(src: DiffSource): { stream: Readable; diffSize: () => number } {
  return exportLayerSizedImpl(src);
}

/** `docker diff`: the changed paths, sorted, with Docker's A/C/D kinds. */
export async function computeChanges(src: DiffSource): Promise<Change[]> {
  return src.kind === 'overlay'
    ? overlayChanges(src.upper, src.lowers, !!src.whiteoutFiles)
    : naiveChanges(src.upper, src.lower);
}

/** What a naive (full copy) snapshot's own changes weigh, as Docker's naive diff driver measures DiffSize. */
export function naiveChangesUsage(upper: string, lower?: string): Promise<{ size: number; inodes: number }> {
  return naiveChangesUsageImpl(upper, lower);
}

/** Tar of a whole directory tree (docker export). */
export function packTree(dir: string): Readable {
  function* items() {
    const fd = openDir(dir);
    try {
      yield* treeItems(fd);
    } finally {
      closeSync(fd);
    }
  }
  return tarStream(items());
}

/** Tar of the whole tree below the directory open as `dirFd`; the caller keeps the fd open until the stream ends. */
export function packTreeAt(dirFd: number): Readable {
  return tarStream(treeItems(dirFd));
}

/** Resolves `path` inside `root` as if `root` were `/` (symlinks never leave it) and stats it without following the last link. */
export async function statPath(root: string, path: string): Promise<PathStat> {
  return statPathImpl(root, path);
}

/** docker cp out: a tar whose top entry is the base name of `path` resolved inside `root`. */
export async function packPath(root: string, path: string): Promise<{ stat: PathStat; stream: Readable }> {
  return packPathImpl(root, path);
}

/**
 * docker cp in: extracts a tar into directory `path` resolved inside `root`, confined to it.
 * NotFound ("Could not find the file PATH") when it does not exist; InvalidParameter
 * ("extraction point is not a directory") when it is not a directory.
 */
export async function extractTo(root: string, path: string, input: Readable, opts?: ExtractOptions): Promise<void> {
  return extractToImpl(root, path, input, opts);
}
