// The archive room's public surface. Everything here is confined to the directory it is
// given: no tar entry, symlink or hardlink may reach outside it.
import type { Readable } from 'node:stream';
import { NotImplemented } from '../errors.js';
import { applyLayer as applyLayerImpl } from './apply.js';
import type { ApplyOptions, ApplyResult, Change, DiffSource, PathStat } from './types.js';

export type { ApplyOptions, ApplyResult, Change, DiffSource, PathStat } from './types.js';

/** Applies a layer tar (plain, gzip or zstd, detected by content) onto `dir`; hashes the uncompressed stream as its diffID. */
export async function applyLayer(input: Readable, dir: string, opts: ApplyOptions): Promise<ApplyResult> {
  return applyLayerImpl(input, dir, opts);
}

/** A layer tar of what `src` changed (whiteouts as .wh. entries), as Docker would export it. */
export function exportLayer(_src: DiffSource): Readable {
  throw new NotImplemented('exportLayer');
}

/** `docker diff`: the changed paths, sorted, with Docker's A/C/D kinds. */
export async function computeChanges(_src: DiffSource): Promise<Change[]> {
  throw new NotImplemented('computeChanges');
}

/** Tar of a whole directory tree (docker export). */
export function packTree(_dir: string): Readable {
  throw new NotImplemented('packTree');
}

/** Resolves `path` inside `root` as if `root` were `/` (symlinks never leave it) and stats it without following the last link. */
export async function statPath(_root: string, _path: string): Promise<PathStat> {
  throw new NotImplemented('statPath');
}

/** docker cp out: a tar whose top entry is the base name of `path` resolved inside `root`. */
export async function packPath(_root: string, _path: string): Promise<{ stat: PathStat; stream: Readable }> {
  throw new NotImplemented('packPath');
}

/** docker cp in: extracts a tar into directory `path` resolved inside `root`, confined to `root`. */
export async function extractTo(_root: string, _path: string, _input: Readable, _opts?: { noOverwriteDirNonDir?: boolean }): Promise<void> {
  throw new NotImplemented('extractTo');
}
