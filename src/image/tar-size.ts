// Docker's layer size (DiffSize) read from a layer tar: st_size of every added entry that is
// not a directory (symlinks count their target's length), whiteouts and hardlinks excluded.
// Used where the snapshot is a full copy (vfs) and the changes cannot be measured on disk.
import type { Readable } from 'node:stream';
import tarStream from 'tar-stream';

export async function tarDiffSize(input: Readable): Promise<number> {
  const extract = tarStream.extract();
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract);
  let size = 0;
  for await (const entry of extract) {
    const h = entry.header;
    const base = h.name.split('/').filter(Boolean).pop() ?? '';
    if (!base.startsWith('.wh.')) {
      if (h.type === 'file' || h.type === 'contiguous-file') size += h.size ?? 0;
      else if (h.type === 'symlink') size += Buffer.byteLength(h.linkname ?? '');
    }
    entry.resume();
  }
  return size;
}
