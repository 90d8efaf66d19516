// docker pull --all-tags: the repository's tags as the registry lists them (every page), each
// pulled in that order as a pull of that tag would (its own `Pulling from`, layers and `Digest:`
// lines), then one `Status:` line naming the repository: "Downloaded newer image" when any tag
// now names another image than before. The first tag that fails ends the pull, as in dockerd.
import { InvalidParameter } from '../errors.js';
import { checkTag, familiar } from '../image/reference.js';
import { endpointsFor, repositoryOf } from './endpoint.js';
import type { AuthConfig } from './auth.js';
import type { Platform } from './manifest.js';
import type { ProgressSink } from './progress.js';
import { cancelledPull, pullReference, sessionFor, type PullDeps, type RepositorySessions } from './pull.js';
import { listTags } from './tags.js';

export interface PullAllRequest {
  /** Normalized repository name, without tag or digest. */
  name: string;
  platform: Platform;
  auth: AuthConfig;
  /** Aborted when the client went away: the tag being pulled stops, and no other starts. */
  signal?: AbortSignal;
}

/** The tags a repository lists, from the first endpoint that answers (mirrors first). */
async function repositoryTags(deps: PullDeps, req: PullAllRequest, sessions: RepositorySessions): Promise<string[]> {
  const repo = repositoryOf(req.name);
  let lastErr: unknown;
  for (const ep of endpointsFor(repo.registry, deps.registry)) {
    try {
      return await listTags(await sessionFor(ep, repo, req.auth, sessions, req.signal), req.name);
    } catch (err) {
      lastErr = err;
      if (!ep.mirror || req.signal?.aborted) break;
    }
  }
  throw lastErr;
}

export async function pullAllTags(deps: PullDeps, req: PullAllRequest, out: ProgressSink): Promise<void> {
  // One session per endpoint for the whole repository: one ping, and a token reused by every tag.
  const sessions: RepositorySessions = new Map();
  const tags = await repositoryTags(deps, req, sessions).catch((err: unknown) => {
    throw req.signal?.aborted ? cancelledPull(err) : err;
  });
  let updated = false;
  for (const tag of tags) {
    // A registry's answer names nothing locally before it reads as a tag.
    try {
      checkTag(tag);
    } catch {
      throw new InvalidParameter(`invalid tag ${JSON.stringify(tag)} listed by the registry for ${familiar(req.name)}`);
    }
    const pulled = { name: req.name, tag, platform: req.platform, auth: req.auth, signal: req.signal };
    if (await pullReference(deps, pulled, out, sessions)) updated = true;
  }
  const shown = familiar(req.name);
  out({ status: `Status: ${updated ? 'Downloaded newer image' : 'Image is up to date'} for ${shown}` });
  deps.emitEvent('pull', shown, { name: shown });
}
