// A proxy in front of a test registry that lists a repository's tags one per page, in the
// order the test gives, each page naming the next with a `Link: <…>; rel="next"` header (the
// registry packaged here sends every tag at once and ignores `n`). It passes every other request
// through untouched and records each request line, so a test can count the GETs of a blob; a
// test may hold a request until others have come.
import http from 'node:http';
import { serveOnLoopback } from './registry.js';

export interface PagingProxy {
  addr: string;
  /** `METHOD path?query` of every request, in order. */
  requests: string[];
  stop(): Promise<void>;
}

export async function startPagingProxy(
  target: string,
  order: (tags: string[]) => string[],
  /** Holds a request (given as `METHOD path`) until the promise it returns settles. */
  gate: (line: string) => Promise<void> | undefined = () => undefined,
): Promise<PagingProxy> {
  const requests: string[] = [];
  const forward = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const [host, port] = target.split(':');
    const up = http.request(
      { host, port: Number(port), method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
  const server = http.createServer(async (req, res) => {
    const line = `${req.method} ${req.url}`;
    requests.push(line);
    await gate(line);
    const url = new URL(req.url ?? '/', 'http://proxy');
    if (req.method !== 'GET' || !url.pathname.endsWith('/tags/list')) return forward(req, res);
    // The whole list from the registry, then the page after `last`.
    const [host, port] = target.split(':');
    const up = http.get(
      { host, port: Number(port), path: url.pathname, headers: { authorization: req.headers.authorization ?? '' } },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          if (answer.statusCode !== 200) {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            return res.end(Buffer.concat(chunks));
          }
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { name: string; tags: string[] };
          const all = order(body.tags);
          const last = url.searchParams.get('last');
          const from = last === null ? 0 : all.indexOf(last) + 1;
          const page = all.slice(from, from + 1);
          const headers: Record<string, string> = { 'Content-Type': 'application/json' };
          if (from + 1 < all.length)
            headers.Link = `<${url.pathname}?n=1&last=${encodeURIComponent(page[0]!)}>; rel="next"`;
          res.writeHead(200, headers);
          res.end(JSON.stringify({ name: body.name, tags: page }));
        });
      },
    );
    up.on('error', () => res.destroy());
  });
  return { ...(await serveOnLoopback(server)), requests };
}
