// Container endpoints: lifecycle, inspect/ps, logs, and the hijacked attach/exec streams
// (HTTP/1.1 101 UPGRADED, then raw bytes: stdcopy frames without a TTY, the terminal's bytes
// with one). The client half-closes its side when its stdin ends; the http server keeps
// allowHalfOpen, so we can still write until the process is done.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { PassThrough } from 'node:stream';
import { InvalidParameter, NotFound } from '../errors.js';
import { formatPlatform, parsePlatformSpecifier, platformMatches } from '../image/platform.js';
import type {
  ContainerExec,
  ContainerLifecycle,
  ContainerStreams,
  ContainerViews,
  WaitCondition,
} from '../container/backend.js';
import type { ExecConfig } from '../container/exec.js';
import { parseLogTime } from '../container/logs.js';
import { frame } from '../container/stdcopy.js';
import type { Router, RequestContext } from './router.js';
import { Reply } from './router.js';
import { parseFilters, queryBool, queryInt, readJson } from './http.js';
import { versionAtLeast } from './version.js';

/**
 * A container's command and environment can together reach the kernel's ARG_MAX (a quarter of
 * the stack limit, 2 MiB by default, more with a raised `ulimit -s`), and JSON escaping can
 * triple that: create and exec bodies get more room than the default.
 */
const CREATE_BODY_LIMIT = 16 << 20;

const WAIT_CONDITIONS: readonly WaitCondition[] = ['not-running', 'next-exit', 'removed'];

const lifecycle = (ctx: RequestContext): ContainerLifecycle => ctx.engine.containers;
const views = (ctx: RequestContext): ContainerViews => ctx.engine.containers;
const streams = (ctx: RequestContext): ContainerStreams & ContainerViews => ctx.engine.containers;
const execs = (ctx: RequestContext): ContainerExec & ContainerViews => ctx.engine.containers;

export function registerContainerRoutes(router: Router): void {
  router.post('/containers/create', async (ctx) => {
    const body = await readJson<Record<string, any>>(
      ctx,
      {},
      { type: 'runconfig.ContainerConfigWrapper', maxBytes: CREATE_BODY_LIMIT },
    );
    const { HostConfig, NetworkingConfig, ...config } = body;
    // Clients older than API 1.40 knew only the shareable default (moby's postContainersCreate).
    if (HostConfig && !HostConfig.IpcMode && !versionAtLeast(ctx.apiVersion, '1.40')) HostConfig.IpcMode = 'shareable';
    await checkCreatePlatform(ctx, config.Image);
    const rec = await lifecycle(ctx).create(
      { Config: config, HostConfig: HostConfig ?? {}, NetworkingConfig },
      ctx.query.get('name'),
      ctx.apiVersion,
    );
    // Docker accepts ports with the host's network and says they go nowhere.
    const warnings =
      rec.hostConfig.NetworkMode === 'host' && Object.keys(rec.hostConfig.PortBindings ?? {}).length
        ? ['Published ports are discarded when using host network mode']
        : [];
    return new Reply(201, { Id: rec.id, Warnings: warnings });
  });

  router.get('/containers/json', async (ctx) =>
    views(ctx).ps({
      all: queryBool(ctx.query, 'all'),
      size: queryBool(ctx.query, 'size'),
      limit: queryInt(ctx.query, 'limit', -1)!,
      filters: parseFilters(ctx.query),
    }),
  );

  router.post('/containers/prune', async (ctx) => lifecycle(ctx).prune(parseFilters(ctx.query)));

  // {id*}: dockerd finds a container by a link's name too (parent/alias).
  router.get('/containers/{id*}/json', async (ctx) => views(ctx).inspect(ctx.params.id!, queryBool(ctx.query, 'size')));

  router.post('/containers/{id}/start', async (ctx) => {
    await lifecycle(ctx).start(ctx.params.id!);
  });
  router.post('/containers/{id}/stop', async (ctx) => {
    await lifecycle(ctx).stop(ctx.params.id!, queryInt(ctx.query, 't'), ctx.query.get('signal') ?? undefined);
  });
  router.post('/containers/{id}/restart', async (ctx) => {
    await lifecycle(ctx).restart(ctx.params.id!, queryInt(ctx.query, 't'));
  });
  router.post('/containers/{id}/kill', async (ctx) => {
    await lifecycle(ctx).kill(ctx.params.id!, ctx.query.get('signal') ?? undefined);
  });
  router.post('/containers/{id}/pause', async (ctx) => {
    await lifecycle(ctx).pause(ctx.params.id!);
  });
  router.post('/containers/{id}/unpause', async (ctx) => {
    await lifecycle(ctx).unpause(ctx.params.id!);
  });
  router.post('/containers/{id}/rename', async (ctx) => {
    await lifecycle(ctx).rename(ctx.params.id!, ctx.query.get('name') ?? '');
  });
  router.delete('/containers/{id}', async (ctx) => {
    // `docker rm --link /parent/alias` removes a legacy link, never a container.
    if (queryBool(ctx.query, 'link')) {
      lifecycle(ctx).removeLink(ctx.params.id!);
      return;
    }
    await lifecycle(ctx).remove(ctx.params.id!, {
      force: queryBool(ctx.query, 'force'),
      volumes: queryBool(ctx.query, 'v'),
    });
  });
  // `docker rm --link /parent/alias` names the link with slashes.
  router.delete('/containers/{link*}', async (ctx) => {
    if (!queryBool(ctx.query, 'link')) throw new InvalidParameter(`No such container: ${ctx.params.link}`);
    lifecycle(ctx).removeLink(ctx.params.link!);
  });
  router.get('/containers/{id}/top', async (ctx) => views(ctx).top(ctx.params.id!, ctx.query.get('ps_args') ?? ''));
  router.post('/containers/{id}/resize', async (ctx) => {
    streams(ctx).resize(ctx.params.id!, queryInt(ctx.query, 'h', 0)!, queryInt(ctx.query, 'w', 0)!);
    return new Reply(200, undefined);
  });

  router.post('/containers/{id}/wait', async (ctx) => {
    const asked = ctx.query.get('condition') || 'not-running';
    const cond = WAIT_CONDITIONS.find((c) => c === asked);
    if (!cond) throw new InvalidParameter(`invalid condition: "${asked}"`);
    const { done } = lifecycle(ctx).waitFor(ctx.params.id!, cond);
    const res = ctx.res!;
    // Headers go out now: the CLI waits for them before it starts the container.
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    const code = await done;
    // dockerd 20.10 always sends Error, null when the wait itself went well.
    res.end(JSON.stringify({ Error: null, StatusCode: code }) + '\n');
  });

  router.get('/containers/{id}/logs', async (ctx) => {
    const m = streams(ctx);
    const rec = await m.get(ctx.params.id!);
    const stdout = queryBool(ctx.query, 'stdout');
    const stderr = queryBool(ctx.query, 'stderr');
    if (!stdout && !stderr) throw new InvalidParameter('Bad parameters: you must choose at least one stream');
    m.checkLogsReadable(rec);
    const tailRaw = ctx.query.get('tail');
    const tail = !tailRaw || tailRaw === 'all' ? undefined : Number(tailRaw);
    const tty = !!rec.config.Tty;
    const res = ctx.res!;
    res.writeHead(200, { 'Content-Type': streamType(tty, ctx.apiVersion) });
    const closed = new Promise<void>((r) => res.on('close', () => r()));
    await m.logs(
      rec,
      {
        stdout,
        stderr,
        follow: queryBool(ctx.query, 'follow'),
        tail: Number.isFinite(tail) ? tail : undefined,
        since: parseLogTime(ctx.query.get('since')),
        until: parseLogTime(ctx.query.get('until')),
        timestamps: queryBool(ctx.query, 'timestamps'),
      },
      (s, d) => {
        res.write(tty ? d : frame(s, d));
      },
      closed,
    );
    res.end();
  });

  router.post('/containers/{id}/attach', async (ctx) => {
    const m = streams(ctx);
    const rec = await m.get(ctx.params.id!);
    const q = ctx.query;
    const conn = hijack(ctx, streamType(!!rec.config.Tty, ctx.apiVersion));
    await m.attach(
      rec.id,
      {
        logs: queryBool(q, 'logs'),
        stream: queryBool(q, 'stream'),
        stdin: queryBool(q, 'stdin'),
        stdout: queryBool(q, 'stdout'),
        stderr: queryBool(q, 'stderr'),
        detachKeys: q.get('detachKeys'),
      },
      conn,
    );
  });

  router.post('/containers/{id}/exec', async (ctx) => {
    const m = execs(ctx);
    const rec = await m.get(ctx.params.id!);
    const config = await readJson<ExecConfig>(ctx, {}, { type: 'types.ExecConfig', maxBytes: CREATE_BODY_LIMIT });
    return new Reply(201, { Id: m.execCreate(rec.id, config).id });
  });

  router.get('/exec/{id}/json', async (ctx) => execs(ctx).execInspect(ctx.params.id!));

  router.post('/exec/{id}/resize', async (ctx) => {
    execs(ctx).execResize(ctx.params.id!, queryInt(ctx.query, 'h', 0)!, queryInt(ctx.query, 'w', 0)!);
    return new Reply(200, undefined);
  });

  router.post('/exec/{id}/start', async (ctx) => {
    const m = execs(ctx);
    const inst = m.execGet(ctx.params.id!);
    const body = await readStartBody(ctx);
    const consoleSize = body.ConsoleSize ?? null;
    // Docker frames the stream by the start request's Tty, not the exec's: a client that reads
    // frames where raw terminal bytes arrive takes the first eight bytes for a frame header.
    const tty = !!body.Tty;
    if (body.Detach) {
      const proc = await m.execStart(inst.id, consoleSize);
      proc.stdout.resume();
      proc.stderr?.resume();
      return new Reply(200, undefined);
    }
    // Without an upgrade Docker answers a plain 200 that always says raw-stream.
    const conn = hijack(ctx, ctx.socket ? streamType(tty, ctx.apiVersion) : 'application/vnd.docker.raw-stream');
    const stdin = new PassThrough();
    if (inst.config.AttachStdin) {
      conn.input.on('data', (d: Buffer) => stdin.write(d));
      conn.input.on('end', () => stdin.end());
    }
    let proc;
    try {
      proc = await m.execStart(inst.id, consoleSize);
    } catch (err) {
      const msg = Buffer.from(`${(err as Error).message}\r\n`);
      conn.write(tty ? msg : frame('stdout', msg));
      conn.end();
      return;
    }
    if (proc.stdin) stdin.pipe(proc.stdin);
    const ended = (s: NodeJS.ReadableStream | null, name: 'stdout' | 'stderr') =>
      new Promise<void>((resolve) => {
        if (!s) return resolve();
        s.on('data', (d: Buffer) => {
          if (
            (name === 'stdout' && inst.config.AttachStdout === false) ||
            (name === 'stderr' && inst.config.AttachStderr === false)
          )
            return;
          conn.write(tty ? d : frame(name, d));
        });
        s.on('end', () => resolve());
        s.on('error', () => resolve());
      });
    await Promise.all([ended(proc.stdout, 'stdout'), ended(proc.stderr, 'stderr'), inst.done]);
    conn.end();
  });
}

type ExecStartBody = { Detach?: boolean; Tty?: boolean; ConsoleSize?: [number, number] };

/**
 * With `Upgrade: tcp` Node hands over the socket without reading the body: the JSON body is
 * the first Content-Length bytes after the headers, and only what follows is stdin.
 */
async function readStartBody(ctx: RequestContext): Promise<ExecStartBody> {
  if (!ctx.socket) return readJson<ExecStartBody>(ctx, {}, { type: 'types.ExecStartCheck' });
  const length = Number(ctx.req.headers['content-length'] ?? 0);
  if (!length) return {};
  let buf = ctx.head ?? Buffer.alloc(0);
  const socket = ctx.socket;
  while (buf.length < length) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const onData = (d: Buffer) => {
        cleanup();
        resolve(d);
      };
      const onEnd = () => {
        cleanup();
        resolve(null);
      };
      const cleanup = () => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.pause();
      };
      socket.on('data', onData);
      socket.on('end', onEnd);
      socket.resume();
    });
    if (!chunk) break;
    buf = Buffer.concat([buf, chunk]);
  }
  ctx.head = buf.subarray(length);
  try {
    return JSON.parse(buf.subarray(0, length).toString('utf8') || '{}') as ExecStartBody;
  } catch (err) {
    throw new InvalidParameter(`invalid JSON: ${(err as Error).message}`);
  }
}

function streamType(tty: boolean, apiVersion: string): string {
  return !tty && versionAtLeast(apiVersion, '1.42')
    ? 'application/vnd.docker.multiplexed-stream'
    : 'application/vnd.docker.raw-stream';
}

interface Hijacked {
  write(data: Buffer): void;
  end(): void;
  /** What the client sends after the upgrade (stdin). */
  input: NodeJS.ReadableStream;
  closed: Promise<void>;
}

/** Takes over the connection: 101 UPGRADED when the client asked for it, else a 200 raw stream. */
function hijack(ctx: RequestContext, contentType: string): Hijacked {
  if (ctx.socket) {
    const socket: Duplex = ctx.socket;
    socket.write(
      `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
    );
    const input = new PassThrough();
    if (ctx.head && ctx.head.length > 0) input.write(ctx.head);
    socket.on('data', (d: Buffer) => input.write(d));
    socket.on('end', () => input.end());
    socket.on('error', () => input.end());
    socket.resume();
    const closed = new Promise<void>((r) =>
      socket.on('close', () => {
        input.end();
        r();
      }),
    );
    return {
      write: (d) => {
        if (socket.writable) socket.write(d);
      },
      end: () => {
        if (!socket.writableEnded) socket.end();
      },
      input,
      closed,
    };
  }
  const res: http.ServerResponse = ctx.res!;
  res.writeHead(200, { 'Content-Type': contentType });
  res.flushHeaders();
  const closed = new Promise<void>((r) => res.on('close', () => r()));
  return {
    write: (d) => {
      if (!res.writableEnded) res.write(d);
    },
    end: () => {
      if (!res.writableEnded) res.end();
    },
    input: ctx.req,
    closed,
  };
}

/**
 * create's `platform` (API 1.41+): a bad specifier is refused, and an image there is that is not
 * for that platform is, in dockerd's words, not found (a missing image is left to create).
 */
async function checkCreatePlatform(ctx: RequestContext, image: unknown): Promise<void> {
  const platform = ctx.query.get('platform');
  if (!platform || !versionAtLeast(ctx.apiVersion, '1.41')) return;
  const want = parsePlatformSpecifier(platform);
  if (typeof image !== 'string' || !image) return;
  const found = await ctx.engine.images.resolve(image).catch(() => undefined);
  if (!found) return;
  const actual = { os: found.config.os ?? '', architecture: found.config.architecture ?? '' };
  const variant = typeof found.config.variant === 'string' ? found.config.variant : '';
  const have = variant ? { ...actual, variant } : actual;
  if (!platformMatches(want, have))
    throw new NotFound(
      `image with reference ${image} was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${formatPlatform(have)}`,
    );
}
