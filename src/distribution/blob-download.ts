// Fetches one blob, hashing as it goes: as a stream of chunks (the layer next in line is applied
// straight from the socket) or into a scratch file (layers fetched ahead of their turn). A
// connection that drops mid-blob is resumed with a Range request from the last byte received; a
// registry that ignores Range sends it all again and the bytes already had are skipped. The
// blob is accepted only if its size and sha256 are the descriptor's: the stream ends with an
// error otherwise (so whatever was applied from it is rolled back), and a file is deleted.
import fsp from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { InvalidParameter, SystemError } from '../errors.js';
import type { RegistrySession } from './session.js';
import type { Descriptor } from './manifest.js';
import { unexpected } from './registry-error.js';

const ATTEMPTS = 5;

const verificationFailed = (desc: Descriptor) =>
  new InvalidParameter(`filesystem layer verification failed for digest ${desc.digest}`);

export async function* blobChunks(
  session: RegistrySession,
  desc: Descriptor,
  onBytes: (n: number) => void,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  const cancelled = () => new SystemError(`download of ${desc.digest} cancelled`);
  let received = 0;
  const hash = createHash('sha256');
  let lastErr: unknown;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (signal?.aborted) throw cancelled();
    const headers: Record<string, string> = {};
    if (received > 0) headers.Range = `bytes=${received}-`;
    let res;
    try {
      res = await session.request(`blobs/${desc.digest}`, { headers });
    } catch (err) {
      lastErr = err;
      if ((err as { status?: number }).status !== 503) throw err;
      continue;
    }
    // Without Range support the blob comes from its start: skip what was had.
    let skip = res.status === 200 ? received : 0;
    if (res.status !== 200 && res.status !== 206) throw await unexpected(res, `error fetching blob ${desc.digest}`);
    try {
      for await (const chunk of res.body) {
        let b = chunk as Buffer;
        if (skip > 0) {
          const n = Math.min(skip, b.length);
          skip -= n;
          b = b.subarray(n);
          if (!b.length) continue;
        }
        if (signal?.aborted) throw cancelled();
        if (received + b.length > desc.size) throw verificationFailed(desc);
        hash.update(b);
        received += b.length;
        onBytes(received);
        yield b;
      }
      if (!res.body.complete) throw new SystemError('connection closed before the end of the blob');
      if (received < desc.size) throw new SystemError(`blob ended at ${received} of ${desc.size} bytes`);
      lastErr = undefined;
      break;
    } catch (err) {
      res.body.destroy();
      if (err instanceof InvalidParameter || signal?.aborted) throw err;
      lastErr = err;
    }
  }
  if (lastErr) throw new SystemError(`error pulling blob ${desc.digest}: ${(lastErr as Error).message}`);
  if ('sha256:' + hash.digest('hex') !== desc.digest) throw verificationFailed(desc);
}

export async function downloadBlob(
  session: RegistrySession,
  desc: Descriptor,
  file: string,
  onBytes: (n: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  const fh = await fsp.open(file, 'w', 0o600);
  try {
    let pos = 0;
    for await (const b of blobChunks(session, desc, onBytes, signal)) {
      let off = 0;
      while (off < b.length) off += (await fh.write(b, off, b.length - off, pos + off)).bytesWritten;
      pos += b.length;
    }
    await fh.close();
  } catch (err) {
    await fh.close().catch(() => {});
    await fsp.rm(file, { force: true });
    throw err;
  }
}
