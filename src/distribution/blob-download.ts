// Fetches one blob as a stream of chunks, hashing as it goes. A connection that drops mid-blob
// (a layer waiting for its turn to unpack holds its connection paused, and a registry may drop
// it) is resumed with a Range request from the last byte received; a registry that ignores Range
// sends it all again and the bytes already had are skipped. The blob is accepted only if its
// size and sha256 are the descriptor's: the stream ends with an error otherwise (so whatever was
// applied from it, or written of it, is thrown away).
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
    const had = received;
    const headers: Record<string, string> = {};
    if (received > 0) headers.Range = `bytes=${received}-`;
    let res;
    try {
      res = await session.request(`blobs/${desc.digest}`, { headers, signal });
    } catch (err) {
      if (signal?.aborted) throw cancelled();
      lastErr = err;
      if ((err as { status?: number }).status !== 503) throw err;
      continue;
    }
    // Without Range support the blob comes from its start: skip what was had.
    let skip = res.status === 200 ? received : 0;
    if (res.status !== 200 && res.status !== 206) throw await unexpected(res, `error fetching blob ${desc.digest}`);
    // A download stopped while its connection waits (paused, or on a slow registry) ends now.
    const stop = () => res.body.destroy();
    signal?.addEventListener('abort', stop, { once: true });
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
      if (err instanceof InvalidParameter) throw err;
      if (signal?.aborted) throw cancelled();
      lastErr = err;
      // A connection that gave bytes before it dropped uses up no attempt: only a blob that
      // makes no progress gives up.
      if (received > had) attempt--;
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  }
  if (lastErr) throw new SystemError(`error pulling blob ${desc.digest}: ${(lastErr as Error).message}`);
  if ('sha256:' + hash.digest('hex') !== desc.digest) throw verificationFailed(desc);
}
