// The archive room's public surface. Everything here is confined to the directory it is
// given: no tar entry, symlink or hardlink may reach outside it.
import { closeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { applyLayer as applyLayerImpl } from './apply.js';
import { naiveChanges, openDir, overlayChanges } from './changes.js';
import {
  extractTo as extractToImpl,
  packPath as packPathImpl,
  statPath as statPathImpl,
  type ExtractOptions,
} from './copy.js';
import { exportLayer as exportLayerImpl } from './export.js';
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

/** Applies a layer tar (plain, gzip or zstd, detected by content) onto `dir`; hashes the uncompressed stream as its diffID. */
export async function applyLayer(input: Readable, dir: string, opts: ApplyOptions): Promise<ApplyResult> {
  return applyLayerImpl(input, dir, opts);
}

/** A layer tar of what `src` changed (whiteouts as .wh. entries), as Docker would export it. */
export function exportLayer(src: DiffSource): Readable {
  return exportLayerImpl(src);
}

/** `docker diff`: the changed paths, sorted, with Docker's A/C/D kinds. */
export async function computeChanges(src: DiffSource): Promise<Change[]> {
  return src.kind === 'overlay'
    ? overlayChanges(src.upper, src.lowers, !!src.whiteoutFiles)
    : naiveChanges(src.upper, src.lower);
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
