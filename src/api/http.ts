// Request and response helpers shared by every api/ file.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidParameter } from '../errors.js';
import type { RequestContext } from './router.js';

/** Reads the whole request body (JSON endpoints only; streams go through ctx.req directly). */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Parses a JSON body; an empty body is `fallback`. Docker answers bad JSON with 400. */
export async function readJson<T>(ctx: RequestContext, fallback: T): Promise<T> {
  const buf = await readBody(ctx.req);
  if (buf.length === 0) return fallback;
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch (err) {
    throw new InvalidParameter(`invalid JSON: ${(err as Error).message}`);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = body === undefined ? '' : JSON.stringify(body) + '\n';
  res.writeHead(status, {
    ...(data ? { 'Content-Type': 'application/json' } : {}),
    'Content-Length': Buffer.byteLength(data),
    ...headers,
  });
  res.end(data);
}

/** Docker's boolean query parameters: "1", "true", "True" are true; "", "0", "false" are false. */
export function queryBool(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name);
  if (v === null) return dflt;
  return !['', '0', 'false', 'False', 'FALSE', 'no'].includes(v);
}

export function queryInt(q: URLSearchParams, name: string, dflt?: number): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidParameter(`invalid ${name} value: ${v}`);
  return n;
}

/**
 * Docker's `filters` query parameter: JSON `{"name":["a","b"]}` or the old
 * `{"name":{"a":true}}` map form. Returns name → values.
 */
export function parseFilters(q: URLSearchParams): Map<string, string[]> {
  const raw = q.get('filters');
  const out = new Map<string, string[]>();
  if (!raw) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidParameter(`invalid filter '${raw}'`);
  }
  if (typeof parsed !== 'object' || parsed === null) return out;
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(v)) out.set(k, v.map(String));
    else if (v && typeof v === 'object') out.set(k, Object.keys(v as object).filter((x) => (v as Record<string, unknown>)[x]));
    else out.set(k, [String(v)]);
  }
  return out;
}

/** Rejects filter names an endpoint does not know, with Docker's message. */
export function checkFilterNames(filters: Map<string, string[]>, allowed: string[]): void {
  for (const k of filters.keys()) {
    if (!allowed.includes(k)) throw new InvalidParameter(`invalid filter '${k}'`);
  }
}

/** Starts a newline-delimited JSON stream (progress, events); each write is one message. */
export function startJsonStream(res: ServerResponse): (msg: unknown) => void {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  return (msg) => { res.write(JSON.stringify(msg) + '\r\n'); };
}
