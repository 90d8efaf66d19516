// Reads a whole import tar before anything is extracted and refuses it if any entry could land
// outside the volume: a name or hardlink with `..` or a leading `/`, a symlink whose target
// leaves the volume (an absolute target would point into the host once extracted), an entry
// reached through a symlink the archive itself made, or a device node.
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { spawn } from 'node:child_process';
import tar from 'tar-stream';
import { InvalidParameter } from '../../errors.js';
import type { RootAttributes } from './swap.js';

export type Compression = 'none' | 'gzip' | 'zstd';

export function detectCompression(head: Buffer): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

function decompressed(file: string, kind: Compression): Readable {
  const raw = fs.createReadStream(file);
  if (kind === 'gzip') return raw.pipe(zlib.createGunzip());
  if (kind === 'zstd') {
    const z = spawn('zstd', ['-dcq'], { stdio: ['pipe', 'pipe', 'ignore'] });
    raw.pipe(z.stdin);
    return z.stdout;
  }
  return raw;
}

/** The entry's path inside the volume ('' for the root), or a refusal. */
export function confinedName(name: string): string {
  if (name.startsWith('/')) throw new InvalidParameter(`refusing to import ${JSON.stringify(name)}: absolute path`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new InvalidParameter(`refusing to import ${JSON.stringify(name)}: path escapes the volume`);
  return parts.join('/');
}

export function checkSymlink(name: string, target: string): void {
  if (target.startsWith('/')) {
    throw new InvalidParameter(`refusing to import symlink ${JSON.stringify(name)} -> ${JSON.stringify(target)}: absolute target points outside the volume`);
  }
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(name), target));
  if (resolved === '..' || resolved.startsWith('../')) {
    throw new InvalidParameter(`refusing to import symlink ${JSON.stringify(name)} -> ${JSON.stringify(target)}: target escapes the volume`);
  }
}

export interface TarSummary {
  entries: number;
  bytes: number;
  compression: Compression;
  /** The `./` entry's owner and mode, when the tar has one. */
  root?: RootAttributes;
}

/** Validates every entry of the tar in `file`; throws InvalidParameter at the first hostile one. */
export async function validateTar(file: string): Promise<TarSummary> {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(4);
  fs.readSync(fd, head, 0, 4, 0);
  fs.closeSync(fd);
  const compression = detectCompression(head);
  const symlinks = new Set<string>();
  const summary: TarSummary = { entries: 0, bytes: 0, compression };
  const extract = tar.extract();
  const src = decompressed(file, compression);
  src.on('error', (e) => extract.destroy(e));
  src.pipe(extract);
  try {
    for await (const entry of extract) {
      const header = entry.header;
      const pax = (header.pax ?? {}) as Record<string, string>;
      const name = confinedName(pax['GNU.sparse.name'] ?? header.name);
      for (const link of symlinks) {
        if (name.startsWith(link + '/')) throw new InvalidParameter(`refusing to import ${JSON.stringify(header.name)}: it lies under symlink ${JSON.stringify(link)}`);
      }
      switch (header.type) {
        case 'symlink':
          checkSymlink(name, header.linkname ?? '');
          symlinks.add(name);
          break;
        case 'link':
          if (!confinedName(header.linkname ?? '')) throw new InvalidParameter(`refusing to import hardlink ${JSON.stringify(header.name)} to the volume root`);
          symlinks.delete(name);
          break;
        case 'character-device':
        case 'block-device':
          throw new InvalidParameter(`refusing to import device node ${JSON.stringify(header.name)}`);
        case 'directory':
          if (name === '') summary.root = { uid: header.uid ?? 0, gid: header.gid ?? 0, mode: header.mode ?? 0o755 };
          symlinks.delete(name);
          break;
        default:
          if (name === '') throw new InvalidParameter(`refusing to import ${JSON.stringify(header.name)}: the volume root must be a directory`);
          symlinks.delete(name);
      }
      summary.entries++;
      summary.bytes += header.size ?? 0;
      entry.resume();
    }
  } catch (err) {
    src.destroy();
    if (err instanceof InvalidParameter) throw err;
    throw new InvalidParameter(`invalid tar archive: ${(err as Error).message}`);
  }
  return summary;
}
