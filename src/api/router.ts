// A small route table: Docker's API has ~100 fixed paths with {name} segments, which a
// hand table matches in microseconds and keeps the whole surface visible in one place.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Engine } from '../engine.js';

/**
 * `E` is what the handlers reach of the engine: the whole Engine for the daemon's router, only
 * the roles a resource file's routes call when a test serves those routes alone.
 */
export interface RequestContext<E = Engine> {
  req: IncomingMessage;
  /** Absent when the client upgraded the connection (attach, exec): use `socket`. */
  res?: ServerResponse;
  /** Present when the client sent `Upgrade: tcp` and the connection is now raw. */
  socket?: Duplex;
  /** Bytes read past the upgrade request's headers (usually empty). */
  head?: Buffer;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The API version of this request: from the /v1.NN/ prefix, else the newest supported. */
  apiVersion: string;
  engine: E;
}

/** What a handler returns: a value to send as JSON with 200, a Reply, or nothing when it wrote the response itself. */
export type Handler<E = Engine> = (ctx: RequestContext<E>) => Promise<unknown> | unknown;

export class Reply {
  constructor(
    readonly status: number,
    readonly body?: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

interface Route<E> {
  method: string;
  path: string;
  pattern: RegExp;
  names: string[];
  handler: Handler<E>;
}

export class Router<E = Engine> {
  private readonly routes: Route<E>[] = [];

  add(method: string, path: string, handler: Handler<E>): void {
    const names: string[] = [];
    // {name} matches one segment; {name*} matches the rest (image names contain slashes).
    const source = path.replace(/\{(\w+)(\*?)\}/g, (_m, name: string, rest: string) => {
      names.push(name);
      return rest ? '(.+)' : '([^/]+)';
    });
    this.routes.push({ method, path, pattern: new RegExp(`^${source}$`), names, handler });
  }

  get(path: string, h: Handler<E>): void {
    this.add('GET', path, h);
  }
  head(path: string, h: Handler<E>): void {
    this.add('HEAD', path, h);
  }
  post(path: string, h: Handler<E>): void {
    this.add('POST', path, h);
  }
  put(path: string, h: Handler<E>): void {
    this.add('PUT', path, h);
  }
  delete(path: string, h: Handler<E>): void {
    this.add('DELETE', path, h);
  }

  /** Every route as registered (method and path with its {name} segments), for tools and tests that walk the API surface. */
  table(): { method: string; path: string }[] {
    return this.routes.map((r) => ({ method: r.method, path: r.path }));
  }

  /** Finds the handler; `undefined` when no route has this path, `null` when the path exists for another method. */
  match(method: string, path: string): { handler: Handler<E>; params: Record<string, string> } | null | undefined {
    let pathKnown = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      pathKnown = true;
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) continue;
      const params: Record<string, string> = {};
      route.names.forEach((n, i) => {
        params[n] = decodeURIComponent(m[i + 1]!);
      });
      return { handler: route.handler, params };
    }
    return pathKnown ? null : undefined;
  }
}
