// POST /build: the classic builder protocol. The body is the context tar (plain or gzip);
// options come in the query (t may repeat; buildargs and labels are JSON objects).
import { InvalidParameter } from '../errors.js';
import { normalizeTagged } from '../image/reference.js';
import { asPlainError } from './plain-errors.js';
import { parsePlatformSpecifier } from '../image/platform.js';
import type { BuildOptions } from '../builder/backend.js';
import { queryBool, startJsonStream } from './http.js';
import type { RequestContext, Router } from './router.js';

function jsonParam<T>(q: URLSearchParams, name: string, fallback: T): T {
  const raw = q.get(name);
  if (!raw) return fallback;
  try {
    return JSON.parse(raw) as T;
  } catch {
    throw new InvalidParameter(`invalid ${name} value: ${raw}`);
  }
}

export function registerBuildRoutes(router: Router): void {
  // The classic builder's cache is its intermediate images (pruned by `image prune`); there is
  // no separate BuildKit cache, so a build-cache prune has nothing to remove.
  router.post('/build/prune', () => ({ CachesDeleted: null, SpaceReclaimed: 0 }));

  router.post('/build', async (ctx: RequestContext) => {
    const q = ctx.query;
    const abort = new AbortController();
    ctx.res!.on('close', () => {
      if (!ctx.res!.writableFinished) abort.abort();
    });
    const opts: BuildOptions = {
      tags: q.getAll('t').filter(Boolean),
      buildArgs: jsonParam<Record<string, string | null>>(q, 'buildargs', {}) ?? {},
      labels: jsonParam<Record<string, string>>(q, 'labels', {}) ?? {},
      target: q.get('target') || undefined,
      noCache: queryBool(q, 'nocache'),
      rm: queryBool(q, 'rm', true),
      forceRm: queryBool(q, 'forcerm'),
      quiet: queryBool(q, 'q'),
      signal: abort.signal,
      networkMode: q.get('networkmode') || 'default',
      apiVersion: ctx.apiVersion,
      extraHosts: q.getAll('extrahosts').filter(Boolean),
      cacheFrom: jsonParam<string[]>(q, 'cachefrom', []) ?? [],
    };
    for (const t of opts.tags) asPlainError(() => normalizeTagged(t));
    // The classic builder checks the specifier and then builds for this machine whatever it says.
    const platform = q.get('platform');
    if (platform) parsePlatformSpecifier(platform);
    const remote = q.get('remote');
    if (remote) throw new InvalidParameter(`remote build contexts are not supported: ${remote}`);
    const build = await ctx.engine.builder.prepare(ctx.req, q.get('dockerfile') || null, opts);
    try {
      const write = startJsonStream(ctx.res!);
      await build.run(write);
      ctx.res!.end();
    } finally {
      build.dispose();
    }
  });
}
