// Strata's extension endpoints for volume backups (documented in docs/volume-backups.md).
// They live under /strata/ so they can never collide with a future Engine API path. Long
// operations answer with a newline-delimited JSON stream like `docker pull`: progress
// messages, then one {"result": …}, or {"error": …, "errorDetail": …} when it failed after
// the stream began (errors before the first message get their HTTP status as usual).
import type { ServerResponse } from 'node:http';
import { InvalidParameter, messageOf } from '../errors.js';
import { streamError } from './error-status.js';
import type { BackupBackend, Progress, Retention } from '../backup/backend.js';
import type { Deferred } from '../util/deferred.js';
import { queryBool, readJson, startJsonStream } from './http.js';
import { Reply, type RequestContext, type Router } from './router.js';

const PASSWORD_HEADER = 'x-strata-backup-password';

const service = (ctx: RequestContext): Deferred<BackupBackend> => ctx.engine.backups;

function password(ctx: RequestContext): string | undefined {
  const v = ctx.req.headers[PASSWORD_HEADER];
  return Array.isArray(v) ? v[0] : v;
}

interface RepositoryBody {
  Repository?: string;
  Force?: boolean;
}

function retentionOf(body: Record<string, unknown>): Retention {
  const n = (k: string): number | undefined => {
    const v = body[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
      throw new InvalidParameter(`invalid ${k}: ${JSON.stringify(v)}`);
    return v;
  };
  return {
    keepLast: n('KeepLast'),
    keepDaily: n('KeepDaily'),
    keepWeekly: n('KeepWeekly'),
    keepMonthly: n('KeepMonthly'),
  };
}

/** Runs `op`, streaming its progress; the stream starts with the first message so early errors keep their status. */
async function streamed<T>(
  res: ServerResponse | undefined,
  op: (send: (msg: unknown) => void) => Promise<T>,
): Promise<void> {
  let write: ((msg: unknown) => void) | undefined;
  const send = (msg: unknown) => {
    if (!res) return;
    write ??= startJsonStream(res);
    write(msg);
  };
  try {
    const result = await op(send);
    send({ result });
    res?.end();
  } catch (err) {
    if (!write) throw err;
    write(streamError(err));
    res?.end();
  }
}

function progressMessage(status: string, id: string, p: Progress): unknown {
  return { status, id, progressDetail: { current: p.current, total: p.total } };
}

export function registerVolumeBackupRoutes(router: Router): void {
  router.post('/strata/volumes/{name}/export', async (ctx) => {
    const { stream, done } = await service(ctx).export(ctx.params.name!, {
      force: queryBool(ctx.query, 'force'),
    });
    const res = ctx.res!;
    res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    stream.pipe(res);
    ctx.req.socket.once('close', () => stream.destroy());
    await done.catch((err: unknown) => {
      ctx.engine.log.warn(`export ${ctx.params.name}: ${messageOf(err)}`);
      res.destroy();
    });
  });

  router.post('/strata/volumes/{name}/import', async (ctx) => {
    const r = await service(ctx).import(ctx.params.name!, ctx.req, { force: queryBool(ctx.query, 'force') });
    return { Volume: r.Volume, Entries: r.entries, Bytes: r.bytes, Compression: r.compression };
  });

  router.post('/strata/volumes/backup', async (ctx) => {
    const body = await readJson<RepositoryBody & { Volumes?: string[] } & Record<string, unknown>>(ctx, {});
    if (!Array.isArray(body.Volumes) || body.Volumes.length === 0) throw new InvalidParameter('no volume to back up');
    const keep = retentionOf(body);
    await streamed(ctx.res, (send) =>
      service(ctx).backup(
        body.Volumes!,
        { repository: body.Repository ?? '', password: password(ctx), force: body.Force, ...keep },
        (vol, p) => send(progressMessage('Backing up', vol, p)),
      ),
    );
  });

  router.get('/strata/backups', async (ctx) => {
    return service(ctx).list(
      { repository: ctx.query.get('repository') ?? '', password: password(ctx) },
      ctx.query.get('volume') ?? undefined,
    );
  });

  router.post('/strata/volumes/{name}/restore', async (ctx) => {
    const body = await readJson<RepositoryBody & { Backup?: string; Target?: string }>(ctx, {});
    await streamed(ctx.res, (send) =>
      service(ctx).restore(
        ctx.params.name!,
        body.Backup || 'latest',
        { repository: body.Repository ?? '', password: password(ctx), target: body.Target, force: body.Force },
        (p) => send(progressMessage('Restoring', body.Target || ctx.params.name!, p)),
      ),
    );
  });

  // The daemon's own repository key, for opening its repositories elsewhere (disaster recovery).
  router.get('/strata/backups/key', async (ctx) => {
    const k = await service(ctx).key();
    return { Key: k.key, Path: k.path };
  });

  router.post('/strata/backups/verify', async (ctx) => {
    const body = await readJson<RepositoryBody>(ctx, {});
    await service(ctx).verify({ repository: body.Repository ?? '', password: password(ctx) });
    return { Verified: true };
  });

  router.post('/strata/backups/forget', async (ctx) => {
    const body = await readJson<RepositoryBody & Record<string, unknown>>(ctx, {});
    const r = await service(ctx).forget({
      repository: body.Repository ?? '',
      password: password(ctx),
      ...retentionOf(body),
    });
    return { Removed: r.removed };
  });

  router.post('/strata/volumes/{name}/clone', async (ctx) => {
    const body = await readJson<{ Target?: string; Force?: boolean }>(ctx, {});
    if (!body.Target) throw new InvalidParameter('clone needs a target volume name');
    const v = await service(ctx).clone(ctx.params.name!, body.Target, { force: body.Force });
    return new Reply(201, {
      Name: v.name,
      Driver: v.driver,
      Mountpoint: v.mountpoint,
      Labels: v.labels,
      Scope: v.scope,
      CreatedAt: v.createdAt,
      Options: v.options,
    });
  });
}
