// GET /containers/{id}/stats (a sample a second, or one sample with stream=false: after two
// cycles so that CPU % can be computed, or at once with one-shot) and POST
// /containers/{id}/update.
import type { ContainerLifecycle, ContainerStats, ContainerViews } from '../container/backend.js';
import type { StatsJson } from '../container/stats.js';
import type { UpdateBody } from '../container/update.js';
import type { Router, RequestContext } from './router.js';
import { queryBool, readJson } from './http.js';

const stats = (ctx: RequestContext): ContainerStats & ContainerViews => ctx.engine.containers;
const updater = (ctx: RequestContext): ContainerLifecycle & ContainerViews => ctx.engine.containers;
const INTERVAL_MS = 1000;

export function registerContainerStatsRoutes(router: Router): void {
  router.get('/containers/{id}/stats', async (ctx) => {
    const m = stats(ctx);
    const rec = await m.get(ctx.params.id!);
    const stream = ctx.query.get('stream') === null ? true : queryBool(ctx.query, 'stream');
    const oneShot = queryBool(ctx.query, 'one-shot');
    const res = ctx.res!;
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    let prev: StatsJson | undefined;
    if (!stream) {
      if (!oneShot && rec.state.Running) {
        prev = m.statsSample(rec);
        await sleep(INTERVAL_MS);
      }
      return m.statsSample(rec, prev);
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    for (;;) {
      const s = m.statsSample(rec, prev);
      if (closed) break;
      res.write(JSON.stringify(s) + '\n');
      prev = s;
      if (!rec.state.Running) break;
      await sleep(INTERVAL_MS);
      if (closed) break;
    }
    res.end();
  });

  router.post('/containers/{id}/update', async (ctx) => {
    const m = updater(ctx);
    const rec = await m.get(ctx.params.id!);
    const body = await readJson<UpdateBody>(ctx, {});
    return { Warnings: await m.update(rec.id, body) };
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
