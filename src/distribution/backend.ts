// The distribution room's role at the API boundary: pull, push, login and a registry's view of
// a reference (moby's distribution and image-service registry verbs). The engine holds it
// deferred (util/deferred.ts): this file is types only, so naming the role loads nothing of
// the room (no registry client at start-up).
import type { AuthConfig } from './auth.js';
import type { ProgressSink } from './progress.js';

export type { AuthConfig } from './auth.js';
export type { ProgressMessage, ProgressSink } from './progress.js';

export interface DistributionBackend {
  /**
   * `ref` as the API's fromImage (+tag) names it, the tag possibly a digest; progress goes to
   * `out`. Aborting `signal` (the client went away) stops it and leaves nothing of it behind.
   */
  pull(
    ref: string,
    platform: string | null | undefined,
    auth: AuthConfig,
    out: ProgressSink,
    signal?: AbortSignal,
  ): Promise<void>;
  /** Every tag the registry lists for a repository named without tag or digest (docker pull --all-tags). */
  pullAllTags(
    name: string,
    platform: string | null | undefined,
    auth: AuthConfig,
    out: ProgressSink,
    signal?: AbortSignal,
  ): Promise<void>;
  /** Every local tag of the repository when `tag` is absent; InvalidParameter for a digest reference. */
  push(name: string, tag: string | undefined, auth: AuthConfig, out: ProgressSink, signal?: AbortSignal): Promise<void>;
  /** A plain error (500, as dockerd 20.10) when the registry refuses the credentials. */
  login(auth: AuthConfig): Promise<{ IdentityToken: string; Status: string }>;
  /** The manifest a reference names and the platforms it offers (GET /distribution/{name}/json). */
  inspect(ref: string, auth: AuthConfig): Promise<Record<string, unknown>>;
}
