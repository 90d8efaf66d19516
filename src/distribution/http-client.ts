// HTTP to registries: keep-alive connections per endpoint, TLS with the endpoint's CA and
// client certificate, and redirects followed (blob GETs are sent to storage elsewhere), with
// credentials dropped when a redirect leaves the registry's host.
import http from 'node:http';
import https from 'node:https';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { TlsMaterial } from './endpoint.js';

export interface HttpOptions {
  method: string;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  tls?: TlsMaterial;
  insecure?: boolean;
  /** Redirects to follow (GET and HEAD only). */
  maxRedirects?: number;
  /** Aborting it ends the request, its answer's body included (the pull or push was called off). */
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  /** Where the answer came from after redirects. */
  url: URL;
}

const agents = new Map<string, http.Agent>();

function agentFor(url: URL, tls: TlsMaterial | undefined, insecure: boolean): http.Agent {
  // Keyed by the TLS material itself: certs.d files replaced while the daemon runs take effect.
  const material = createHash('sha256');
  for (const b of [...(tls?.ca ?? []), tls?.cert, tls?.key]) material.update(b ?? '-').update('\0');
  const key = `${url.protocol}//${url.host}|${insecure}|${material.digest('hex')}`;
  let a = agents.get(key);
  if (!a) {
    a =
      url.protocol === 'https:'
        ? new https.Agent({
            keepAlive: true,
            maxSockets: 16,
            ca: tls?.ca,
            cert: tls?.cert,
            key: tls?.key,
            rejectUnauthorized: !insecure,
          })
        : new http.Agent({ keepAlive: true, maxSockets: 16 });
    agents.set(key, a);
  }
  return a;
}

function once(url: URL, opts: HttpOptions): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(
      url,
      {
        method: opts.method,
        headers: { 'User-Agent': 'docker/20.10.24 (strata)', ...opts.headers },
        agent: agentFor(url, opts.tls, !!opts.insecure),
        signal: opts.signal,
      },
      (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url }),
    );
    const body = opts.body;
    req.on('error', (err) => {
      // A streamed body the request can no longer take stops too: it holds what it reads open.
      if (body !== undefined && !Buffer.isBuffer(body)) body.destroy();
      reject(err);
    });
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    }
  });
}

export async function send(url: URL, opts: HttpOptions): Promise<HttpResponse> {
  let current = url;
  let headers = { ...opts.headers };
  for (let hop = 0; ; hop++) {
    // Certificates of certs.d belong to the registry's host, not to where it redirects.
    const sameHost = current.host === url.host;
    const res = await once(current, {
      ...opts,
      headers,
      tls: sameHost ? opts.tls : undefined,
      insecure: sameHost && opts.insecure,
    });
    const loc = res.headers.location;
    const redirect =
      [301, 302, 303, 307, 308].includes(res.status) && loc && (opts.method === 'GET' || opts.method === 'HEAD');
    if (!redirect || hop >= (opts.maxRedirects ?? 10)) return res;
    res.body.resume();
    const next = new URL(loc, current);
    if (next.host !== url.host) {
      // Storage backends authenticate with the signed URL itself; our token is not theirs.
      const { Authorization: _a, authorization: _b, ...rest } = headers;
      headers = rest;
    }
    current = next;
  }
}

export async function readBody(res: HttpResponse, limit = 16 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    if (n > limit) {
      res.body.destroy();
      throw new Error(`response from ${res.url.host} larger than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export function discard(res: HttpResponse): void {
  res.body.resume();
}
