// Fetches one blob into a scratch file, hashing as it goes. A connection that drops mid-blob
// is resumed with a Range request from the last byte written (a registry that ignores Range
// sends it all again, and the file starts over). The blob is accepted only if its size and
// sha256 are the descriptor's: a corrupt blob is deleted, never applied.
import fsp from 'node:fs/promises';
import { createHash, type Hash } from 'node:crypto';
import { InvalidParameter, SystemError } from '../errors.js';
import type { RegistrySession } from './session.js';
import type { Descriptor } from './manifest.js';
import { unexpected } from './registry-error.js';

const ATTEMPTS = 5;

export async function downloadBlob(session: RegistrySession, desc: Descriptor, file: string, onBytes: (n: number) => void): Promise<void> {
  const fh = await fsp.open(file, 'w', 0o600);
  let written = 0;
  let hash: Hash = createHash('sha256');
  let lastErr: unknown;
  try {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const headers: Record<string, string> = {};
      if (written > 0) headers.Range = `bytes=${written}-`;
      let res;
      try {
        res = await session.request(`blobs/${desc.digest}`, { headers });
      } catch (err) {
        lastErr = err;
        if ((err as { status?: number }).status) throw err;
        continue;
      }
      if (res.status === 200 && written > 0) {
        // No Range support: the whole blob again.
        written = 0;
        hash = createHash('sha256');
        await fh.truncate(0);
      } else if (res.status !== 200 && res.status !== 206) {
        throw await unexpected(res, `error fetching blob ${desc.digest}`);
      }
      try {
        for await (const chunk of res.body) {
          const b = chunk as Buffer;
          if (written + b.length > desc.size) throw new InvalidParameter(`filesystem layer verification failed for digest ${desc.digest}`);
          hash.update(b);
          let off = 0;
          while (off < b.length) off += (await fh.write(b, off, b.length - off, written + off)).bytesWritten;
          written += b.length;
          onBytes(written);
        }
        if (!res.body.complete) throw new SystemError('connection closed before the end of the blob');
        if (written < desc.size) throw new SystemError(`blob ended at ${written} of ${desc.size} bytes`);
        lastErr = undefined;
        break;
      } catch (err) {
        if (err instanceof InvalidParameter) throw err;
        lastErr = err;
      }
    }
    if (lastErr) throw new SystemError(`error pulling blob ${desc.digest}: ${(lastErr as Error).message}`);
    if ('sha256:' + hash.digest('hex') !== desc.digest) throw new InvalidParameter(`filesystem layer verification failed for digest ${desc.digest}`);
    await fh.close();
  } catch (err) {
    await fh.close().catch(() => {});
    await fsp.rm(file, { force: true });
    throw err;
  }
}
