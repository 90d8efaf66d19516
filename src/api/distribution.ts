// Registry endpoints: pull (POST /images/create?fromImage=…), push, login (POST /auth) and
// GET /distribution/{name}/json. As in dockerd, the progress stream starts with its first
// message, so an error found before (unknown manifest, refused credentials) is a plain HTTP
// error with Docker's status; after it, the error ends the stream as an errorDetail message.
import type { RequestContext, Router } from './router.js';
import { readJson, startJsonStream } from './http.js';
import { InvalidParameter, NotImplemented, messageOf } from '../errors.js';
import type { AuthConfig, DistributionBackend } from '../distribution/backend.js';
import type { Deferred } from '../util/deferred.js';
import { decodeRegistryAuth } from './registry-auth.js';
import { checkTag, parseNormalizedNamed } from '../image/reference.js';

const registry = (ctx: RequestContext): Deferred<DistributionBackend> => ctx.engine.distribution;

function lazyStream(ctx: RequestContext): { send: (msg: Record<string, unknown>) => void; started: () => boolean } {
  let send: ((msg: unknown) => void) | undefined;
  return {
    send: (msg) => {
      send ??= startJsonStream(ctx.res!);
      send(msg);
    },
    started: () => send !== undefined,
  };
}

/**
 * Runs a pull or push, its progress streamed. Its signal is aborted when the client goes away
 * before the answer ended (docker pull interrupted): as in dockerd, whose request context
 * cancels the operation, it stops.
 */
async function streamed(
  ctx: RequestContext,
  run: (send: (msg: Record<string, unknown>) => void, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const s = lazyStream(ctx);
  const res = ctx.res!;
  const abort = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) abort.abort();
  };
  res.once('close', onClose);
  try {
    await run(s.send, abort.signal);
  } catch (err) {
    if (!s.started()) throw err;
    s.send({ errorDetail: { message: messageOf(err) }, error: messageOf(err) });
  } finally {
    res.off('close', onClose);
  }
  res.end();
}

const authOf = (ctx: RequestContext): AuthConfig => decodeRegistryAuth(ctx.req.headers['x-registry-auth']);

/** POST /images/create with fromImage: tag may be a tag or a digest (docker pull NAME@sha256:…); none pulls every tag. */
export async function pullImage(ctx: RequestContext, fromImage: string): Promise<void> {
  const tag = ctx.query.get('tag');
  // `docker pull -a` sends the name with a trailing ':', which dockerd drops.
  const image = fromImage.endsWith(':') ? fromImage.slice(0, -1) : fromImage;
  // The name is checked before the tag, so a bad name is what the client hears about.
  const named = parseNormalizedNamed(image);
  let ref = image;
  // A name alone, with no tag parameter, is every tag (docker pull --all-tags), as in dockerd:
  // the docker CLI always sends the tag of a plain `docker pull NAME` (latest by default).
  if (!tag && !named.tag && !named.digest) {
    const auth = authOf(ctx);
    await streamed(ctx, (send, signal) =>
      registry(ctx).pullAllTags(image, ctx.query.get('platform'), auth, send, signal),
    );
    return;
  }
  if (tag) {
    // A tag that parses as a digest (digest.Parse: a known algorithm, hex of its length) is one.
    const digest = /^(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/.test(tag);
    if (!digest) checkTag(tag);
    ref = digest ? `${image}@${tag}` : `${image}:${tag}`;
  }
  const auth = authOf(ctx);
  await streamed(ctx, (send, signal) => registry(ctx).pull(ref, ctx.query.get('platform'), auth, send, signal));
}

export function registerDistributionRoutes(router: Router): void {
  router.get('/images/search', () => {
    throw new NotImplemented(
      "search is not supported by Strata: docker search queries Docker Hub's own index API; browse https://hub.docker.com or list a registry with GET /v2/_catalog",
    );
  });

  router.post('/images/{name*}/push', async (ctx) => {
    const auth = authOf(ctx);
    const tag = ctx.query.get('tag') || undefined;
    await streamed(ctx, (send, signal) => registry(ctx).push(ctx.params.name!, tag, auth, send, signal));
  });

  router.post('/auth', async (ctx) => {
    const body = await readJson<Record<string, unknown>>(ctx, {});
    if (typeof body !== 'object' || body === null) throw new InvalidParameter('invalid JSON: expected an object');
    const str = (k: string): string | undefined => {
      const v = body[k];
      return typeof v === 'string' && v !== '' ? v : undefined;
    };
    return registry(ctx).login({
      username: str('username'),
      password: str('password'),
      serveraddress: str('serveraddress'),
      identitytoken: str('identitytoken'),
      registrytoken: str('registrytoken'),
    });
  });

  router.get('/distribution/{name*}/json', (ctx) => registry(ctx).inspect(ctx.params.name!, authOf(ctx)));
}
