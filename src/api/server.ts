// The Engine API server: one unix socket, versioned paths, JSON errors with Docker's status
// codes, and hijacked connections (attach, exec) through Node's 'upgrade' event, which hands
// over the raw socket with the HTTP parser detached.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { NotFound, StrataError, messageOf } from '../errors.js';
import { httpStatusOf } from './error-status.js';
import type { Engine } from '../engine.js';
import { Reply, Router, type RequestContext } from './router.js';
import { sendJson } from './http.js';
import { goJson } from '../util/go-json.js';
import { splitVersion } from './version.js';

/** What the server itself reads of the engine, whatever its routes reach. */
export type ServerEngine = Pick<Engine, 'activity' | 'log'>;

export function createApiServer<E extends ServerEngine>(engine: E, router: Router<E>): http.Server {
  const server = http.createServer({ keepAliveTimeout: 0 }, (req, res) => {
    void dispatch(engine, router, req, res, undefined, undefined);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    void dispatch(engine, router, req, undefined, socket, head);
  });
  return server;
}

async function dispatch<E extends ServerEngine>(
  engine: E,
  router: Router<E>,
  req: http.IncomingMessage,
  res: http.ServerResponse | undefined,
  socket: Duplex | undefined,
  head: Buffer | undefined,
): Promise<void> {
  const started = Date.now();
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  const end = url.pathname.endsWith('/events') ? () => undefined : engine.activity.begin();
  try {
    const { version, path } = splitVersion(url.pathname);
    const found = router.match(method, path);
    if (found === undefined) throw new NotFound('page not found');
    if (found === null) throw new MethodNotAllowed('method not allowed');
    const ctx: RequestContext<E> = {
      req,
      res,
      socket,
      head,
      params: found.params,
      query: url.searchParams,
      apiVersion: version,
      engine,
    };
    const result = await found.handler(ctx);
    if (res && !res.headersSent && !res.writableEnded) {
      if (result instanceof Reply) sendJson(res, result.status, result.body, result.headers);
      else if (result === undefined) {
        res.writeHead(204);
        res.end();
      } else sendJson(res, 200, result);
    }
  } catch (err) {
    const status = err instanceof MethodNotAllowed ? 405 : httpStatusOf(err);
    if (status >= 500) engine.log.warn(`${method} ${url.pathname}: ${(err as Error)?.stack ?? err}`);
    writeError(res, socket, status, messageOf(err), (err as { closeConnection?: boolean }).closeConnection === true);
  } finally {
    end();
    engine.log.debug(`${method} ${url.pathname}${url.search} ${Date.now() - started}ms`);
  }
}

function writeError(
  res: http.ServerResponse | undefined,
  socket: Duplex | undefined,
  status: number,
  message: string,
  close = false,
): void {
  const body = goJson({ message }, false) + '\n';
  if (res) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (status === 304) {
      res.writeHead(304);
      res.end();
      return;
    }
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      ...(close ? { Connection: 'close' } : {}),
    });
    res.end(body);
  } else if (socket && socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
}

/** A path the router knows with another method: 405, the API room's own answer. */
class MethodNotAllowed extends StrataError {}
