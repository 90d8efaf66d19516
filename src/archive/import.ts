// Extraction of an untrusted archive (a volume import) into an empty directory. The same parser
// and confined writer as a layer's apply decide and write, under import-rules.ts's refusals:
// there is no second reading of the archive that could disagree with the one that was checked.
import type { Readable } from 'node:stream';
import { InvalidParameter } from '../errors.js';
import { decompressStages, type Compression } from './compression.js';
import { ConfinedDir } from './confine.js';
import { ImportRules, type RootAttributes } from './import-rules.js';
import { unpack } from './apply.js';
import { EntryWriter } from './writer.js';

export type { RootAttributes } from './import-rules.js';

export interface UntrustedSummary {
  entries: number;
  /** Sum of the entries' data sizes. */
  bytes: number;
  compression: Compression;
  /** The `./` entry's owner and mode, when the archive has one. */
  root?: RootAttributes;
}

/** Extracts `input` (plain, gzip, zstd, bzip2 or xz) into the empty directory `dir`; InvalidParameter for a refused archive. */
export async function extractUntrusted(input: Readable, dir: string): Promise<UntrustedSummary> {
  const { stream, stages, compression, empty } = await decompressStages(input);
  if (empty) throw new InvalidParameter('invalid tar archive: empty input');
  const rules = new ImportRules();
  const root = ConfinedDir.open(dir, { noSymlinks: true });
  try {
    await unpack(stream, stages, new EntryWriter(root, { rules }));
    return { entries: rules.entries, bytes: rules.bytes, compression, root: rules.root };
  } finally {
    root.close();
  }
}
