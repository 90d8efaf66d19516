// The archive room's entry points for the rooms a daemon builds at its start (the layer store,
// the vfs driver): each loads the room, tar-stream and the tar-split code with it, at its first
// call. A start needs none of them, and they are a good part of what a start would load.
import type { Readable } from 'node:stream';
import type * as Archive from './index.js';
import type * as TarRebuild from './tar-rebuild.js';

const archive = (): Promise<typeof Archive> => import('./index.js');
const tarRebuild = (): Promise<typeof TarRebuild> => import('./tar-rebuild.js');

export async function applyLayer(
  ...args: Parameters<typeof Archive.applyLayer>
): ReturnType<typeof Archive.applyLayer> {
  return (await archive()).applyLayer(...args);
}

export async function applyLayerFile(
  ...args: Parameters<typeof Archive.applyLayerFile>
): ReturnType<typeof Archive.applyLayerFile> {
  return (await archive()).applyLayerFile(...args);
}

export async function naiveChangesUsage(
  ...args: Parameters<typeof Archive.naiveChangesUsage>
): ReturnType<typeof Archive.naiveChangesUsage> {
  return (await archive()).naiveChangesUsage(...args);
}

/** tar-rebuild's rebuildLayer, as an async iterable of the layer's bytes. */
export async function* rebuildLayer(...args: Parameters<typeof TarRebuild.rebuildLayer>): AsyncGenerator<Buffer> {
  const tar: Readable = (await tarRebuild()).rebuildLayer(...args);
  yield* tar;
}

/** tar-rebuild's checkLayerFiles, settled once the room is loaded. */
export async function checkLayerFiles(...args: Parameters<typeof TarRebuild.checkLayerFiles>): Promise<void> {
  (await tarRebuild()).checkLayerFiles(...args);
}
