// A container's filesystem over the API: docker cp (archive), diff (changes), export, commit.
import type { Router, RequestContext } from './router.js';
import { Reply } from './router.js';
import { queryBool, readJson } from './http.js';
import { checkArchivePath, pathStatHeader } from '../container/archive-path.js';
import type { ContainerArchive, ContainerCommitter } from '../container/backend.js';

const STAT_HEADER = 'X-Docker-Container-Path-Stat';
const archive = (ctx: RequestContext): ContainerArchive => ctx.engine.containers;
const committer = (ctx: RequestContext): ContainerCommitter => ctx.engine.containers;

async function headArchive(ctx: RequestContext): Promise<Reply> {
  const path = checkArchivePath(ctx.query.get('path'));
  const stat = await archive(ctx).statPath(ctx.params.id!, path);
  return new Reply(200, undefined, { [STAT_HEADER]: pathStatHeader(stat) });
}

async function getArchive(ctx: RequestContext): Promise<void> {
  const path = checkArchivePath(ctx.query.get('path'));
  const res = ctx.res!;
  await archive(ctx).archivePath(
    ctx.params.id!,
    path,
    (stat) => {
      res.writeHead(200, { 'Content-Type': 'application/x-tar', [STAT_HEADER]: pathStatHeader(stat) });
    },
    res,
  );
}

async function putArchive(ctx: RequestContext): Promise<Reply> {
  const path = checkArchivePath(ctx.query.get('path'));
  await archive(ctx).extractToDir(ctx.params.id!, path, ctx.req, {
    noOverwriteDirNonDir: queryBool(ctx.query, 'noOverwriteDirNonDir'),
    copyUIDGID: queryBool(ctx.query, 'copyUIDGID'),
  });
  return new Reply(200);
}

async function getChanges(ctx: RequestContext): Promise<unknown> {
  const changes = await committer(ctx).changes(ctx.params.id!);
  // dockerd encodes "no changes" as a nil slice.
  return changes.length > 0 ? changes : null;
}

async function getExport(ctx: RequestContext): Promise<void> {
  const res = ctx.res!;
  await archive(ctx).export(ctx.params.id!, res, () => {
    res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  });
}

async function postCommit(ctx: RequestContext): Promise<Reply> {
  const q = ctx.query;
  const config = await readJson<Record<string, unknown> | null>(ctx, null, { type: 'container.Config' });
  const result = await committer(ctx).commit(q.get('container') ?? '', {
    repo: q.get('repo') ?? '',
    tag: q.get('tag') ?? '',
    comment: q.get('comment') ?? '',
    author: q.get('author') ?? '',
    changes: q.getAll('changes'),
    config,
  });
  return new Reply(201, result);
}

export function registerContainerArchiveRoutes(router: Router): void {
  router.head('/containers/{id}/archive', headArchive);
  router.get('/containers/{id}/archive', getArchive);
  router.put('/containers/{id}/archive', putArchive);
  router.get('/containers/{id}/changes', getChanges);
  router.get('/containers/{id}/export', getExport);
  router.post('/commit', postCommit);
}
