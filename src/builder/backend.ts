// The builder's role at the API boundary (moby's router/build Backend): a build is prepared
// first, so a bad context or Dockerfile is an HTTP error before any output, then streamed. The
// engine holds it deferred (util/deferred.ts): this file is types only, so naming the role
// loads nothing of the room.
import type { Readable } from 'node:stream';
import type { BuildOptions } from './step-host.js';
import type { JsonWriter } from './output.js';

export type { BuildOptions } from './step-host.js';
export type { JsonWriter } from './output.js';

/** A build whose context is unpacked and whose Dockerfile parsed. */
export interface PreparedBuild {
  /** Streams the build; never throws (failures end the stream with an error message). Returns the image ID. */
  run(write: JsonWriter): Promise<string | undefined>;
  /** Removes the unpacked context. */
  dispose(): void;
}

/** docker build with the classic builder. */
export interface BuildBackend {
  /** Unpacks the context and parses the Dockerfile; throws (an HTTP error) when either is unusable. */
  prepare(context: Readable, dockerfileName: string | null, opts: BuildOptions): Promise<PreparedBuild>;
}
