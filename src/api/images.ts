// /images/*: list, inspect, history, tag, remove, prune, load, save, import (pull: distribution.ts).
import type { RequestContext, Router } from './router.js';
import { Reply } from './router.js';
import { parseFilters, queryBool, startJsonStream } from './http.js';
import { InvalidParameter, NotFound, NotImplemented, messageOf } from '../errors.js';
import { streamError } from './error-status.js';
import type { ImageArchives, ImageMutations, ImageViews } from '../image/backend.js';
import type { ContainerViews } from '../container/backend.js';
import { matchLabels } from '../util/label-filter.js';
import { parseUntil } from '../util/until.js';
import { versionAtLeast } from '../util/api-version.js';
import { prepareImport } from '../image/import.js';
import { checkTag, parseNormalizedNamed } from '../image/reference.js';
import { asPlainError } from './plain-errors.js';
import { parsePlatformSpecifier } from '../image/platform.js';
import { pullImage } from './distribution.js';

const views = (ctx: RequestContext): ImageViews => ctx.engine.images;
const mutations = (ctx: RequestContext): ImageMutations => ctx.engine.images;
const archives = (ctx: RequestContext): ImageArchives => ctx.engine.images;
const containers = (ctx: RequestContext): ContainerViews => ctx.engine.containers;

async function runningContainers(ctx: RequestContext): Promise<(id: string) => boolean> {
  try {
    const running = new Set((await containers(ctx).list()).filter((c) => c.state?.Running).map((c) => c.id));
    return (id) => running.has(id);
  } catch {
    return () => false;
  }
}

export function registerImageRoutes(router: Router): void {
  router.get('/images/json', (ctx) =>
    views(ctx)
      .summaries({
        all: queryBool(ctx.query, 'all'),
        filters: legacyFilter(ctx),
        sharedSize: queryBool(ctx.query, 'shared-size') && versionAtLeast(ctx.apiVersion, '1.42'),
        containerCount: versionAtLeast(ctx.apiVersion, '1.51'),
      })
      .map((e) => {
        if (versionAtLeast(ctx.apiVersion, '1.44')) delete e.VirtualSize;
        return e;
      }),
  );

  router.post('/images/load', async (ctx) => {
    const quiet = queryBool(ctx.query, 'quiet');
    const send = startJsonStream(ctx.res!);
    try {
      await archives(ctx).load(ctx.req, {
        stream: (text) => send({ stream: text }),
        progress: (msg) => {
          if (!quiet) send(msg);
        },
      });
    } catch (err) {
      ctx.req.resume();
      send(streamError(err));
    }
    ctx.res!.end();
  });

  const save = async (ctx: RequestContext, names: string[]) => {
    // What is known to fail before the answer starts is answered as an error, as dockerd does.
    const stream = await archives(ctx).save(names);
    const res = ctx.res!;
    res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    stream.on('error', (err) => {
      // The client can only see the archive cut short; the log says which layer and why.
      ctx.engine.log.error(`GET ${ctx.req.url}: save cut short: ${messageOf(err)}`);
      res.destroy();
    });
    stream.pipe(res);
    await new Promise<void>((resolve) => {
      res.on('close', resolve);
      res.on('finish', resolve);
    });
  };
  router.get('/images/get', (ctx) => save(ctx, ctx.query.getAll('names')));
  router.get('/images/{name*}/get', (ctx) => save(ctx, [ctx.params.name!]));

  router.post('/images/create', async (ctx) => {
    const fromSrc = ctx.query.get('fromSrc');
    const fromImage = ctx.query.get('fromImage');
    if (fromSrc !== null) {
      if (fromSrc !== '-')
        throw new NotImplemented(
          `importing from ${fromSrc} is not supported: no network access; pipe the archive instead (fromSrc=-)`,
        );
      const opts = prepareImport({
        repo: ctx.query.get('repo') ?? undefined,
        tag: ctx.query.get('tag') ?? undefined,
        message: ctx.query.get('message') ?? undefined,
        changes: ctx.query.getAll('changes'),
        platformOs: importOs(ctx.query.get('platform')),
      });
      const send = startJsonStream(ctx.res!);
      try {
        const id = await archives(ctx).import(ctx.req, opts);
        send({ status: id });
      } catch (err) {
        ctx.req.resume();
        send(streamError(err));
      }
      ctx.res!.end();
      return;
    }
    if (fromImage) {
      await pullImage(ctx, fromImage);
      return;
    }
    throw new InvalidParameter('either fromSrc or fromImage must be set');
  });

  router.get('/images/{name*}/json', async (ctx) => {
    try {
      return shapeInspect(await views(ctx).inspect(ctx.params.name!), ctx.apiVersion);
    } catch (err) {
      if (err instanceof NotFound) throw new NotFound(`no such image: ${ctx.params.name}: ${err.message}`);
      if (err instanceof InvalidParameter)
        throw new InvalidParameter(`no such image: ${ctx.params.name}: ${err.message}`);
      throw err;
    }
  });

  router.get('/images/{name*}/history', (ctx) => views(ctx).history(ctx.params.name!));

  // A Strata extension: each layer's bytes, inodes and how many images share it.
  router.get('/strata/images/{name*}/layers', (ctx) => views(ctx).layers(ctx.params.name!));

  router.post('/images/{name*}/tag', async (ctx) => {
    const image = await views(ctx).resolve(ctx.params.name!);
    const repo = ctx.query.get('repo') ?? '';
    const tag = ctx.query.get('tag') ?? '';
    const parsed = asPlainError(() => {
      const p = parseNormalizedNamed(repo);
      if (tag) checkTag(tag);
      if (p.digest && !tag) throw new InvalidParameter('refusing to create a tag with a digest reference');
      return p;
    });
    await mutations(ctx).tag(image.id, `${parsed.name}:${tag || parsed.tag || 'latest'}`);
    return new Reply(201);
  });

  router.delete('/images/{name*}', async (ctx) =>
    mutations(ctx).remove(ctx.params.name!, {
      force: queryBool(ctx.query, 'force'),
      noprune: queryBool(ctx.query, 'noprune'),
      isRunning: await runningContainers(ctx),
    }),
  );

  router.post('/images/prune', async (ctx) => {
    const filters = parseFilters(ctx.query);
    for (const k of filters.keys())
      if (!['dangling', 'label', 'label!', 'until'].includes(k)) throw new InvalidParameter(`Invalid filter '${k}'`);
    const dangling = filters.get('dangling')?.[0];
    if (dangling !== undefined && !['true', 'false', '1', '0'].includes(dangling.toLowerCase())) {
      throw new InvalidParameter(`Invalid filter 'dangling=${dangling}'`);
    }
    const all = dangling !== undefined && ['false', '0'].includes(dangling.toLowerCase());
    const until = filters.get('until')?.map(parseUntil);
    return mutations(ctx).prune({
      all,
      isRunning: await runningContainers(ctx),
      match: (c) => {
        const created = Date.parse(c.created ?? '') || 0;
        if (until?.some((u) => created > u)) return false;
        const labels = c.config?.Labels;
        if (!matchLabels(filters.get('label'), labels)) return false;
        const not = filters.get('label!');
        if (not?.length && not.some((l) => matchLabels([l], labels))) return false;
        return true;
      },
    });
  });
}

/**
 * Fields later API versions dropped from image inspect (version-history v1.44, v1.45, v1.50).
 * ContainerConfig stays at every version: docker-compose 1.29 reads it when it recreates a
 * service and fails with KeyError without it (Docker 25+ breaks it that way).
 */
function shapeInspect(out: Record<string, unknown>, v: string): Record<string, unknown> {
  if (versionAtLeast(v, '1.44')) delete out.VirtualSize;
  if (versionAtLeast(v, '1.45')) delete out.Container;
  if (versionAtLeast(v, '1.50') && out.Config) {
    const c = out.Config as Record<string, unknown>;
    for (const k of [
      'Hostname',
      'Domainname',
      'AttachStdin',
      'AttachStdout',
      'AttachStderr',
      'Tty',
      'OpenStdin',
      'StdinOnce',
      'Image',
      'NetworkDisabled',
      'MacAddress',
      'StopTimeout',
    ])
      delete c[k];
  }
  return out;
}

/** API < 1.41 also accepted `filter=<reference>` (docker images <name> on old CLIs). */
function legacyFilter(ctx: RequestContext): Map<string, string[]> {
  const filters = parseFilters(ctx.query);
  const legacy = ctx.query.get('filter');
  if (legacy) filters.set('reference', [...(filters.get('reference') ?? []), legacy]);
  return filters;
}

/** An import's platform: dockerd checks the specifier, then takes only its OS, which must be this one's. */
function importOs(platform: string | null): string | undefined {
  if (!platform) return undefined;
  const { os } = parsePlatformSpecifier(platform);
  if (os !== 'linux') throw new InvalidParameter('operating system is not supported');
  return os;
}
