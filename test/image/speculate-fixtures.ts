// What the load-while-uploading tests share: three streaming layers (a whiteout and an opaque
// directory among them), their chainIDs, and a count of the extractions a load starts.
import { randomBytes } from 'node:crypto';
import { makeTar, sha256 } from './fixture-archive.js';
import type { TestStore } from './store-helper.js';

/** Larger than what the archive reader keeps in memory, so each layer streams. */
export const BIG = (1 << 20) + 4096;

export async function bigLayers(): Promise<Buffer[]> {
  return [
    await makeTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/one', data: randomBytes(BIG) },
      { name: 'gone', data: 'x' },
    ]),
    await makeTar([
      { name: '.wh.gone', data: '' },
      { name: 'two', data: randomBytes(BIG) },
    ]),
    await makeTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh..wh..opq', data: '' },
      { name: 'three', data: randomBytes(BIG) },
    ]),
  ];
}

/** Counts the snapshots prepared (one per extraction). */
export function countPrepares(t: TestStore): { n: number } {
  const c = { n: 0 };
  const orig = t.snapshotter.prepare.bind(t.snapshotter);
  t.snapshotter.prepare = (key, parent, labels) => {
    c.n++;
    return orig(key, parent, labels);
  };
  return c;
}

export function chainIDs(layers: Buffer[]): string[] {
  const out: string[] = [];
  for (const l of layers) out.push(out.length ? sha256(`${out[out.length - 1]} ${sha256(l)}`) : sha256(l));
  return out;
}
