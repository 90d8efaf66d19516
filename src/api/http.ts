// Request and response helpers shared by every api/ file.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidParameter } from '../errors.js';
import type { RequestContext } from './router.js';
import { checkJsonBody, JSON_BODY_LIMIT } from './json-body.js';
import { goJson } from '../util/go-json.js';

/** A body refused for its size: the connection is closed after the answer, the rest is never read. */
export class BodyTooLarge extends InvalidParameter {
  readonly closeConnection = true;
}

/** How much of an oversized body is read and thrown away so the client sees the answer rather than a reset. */
const DRAIN_LIMIT = 64 << 20;

/**
 * Reads the whole request body (JSON endpoints only; streams go through ctx.req directly), at
 * most `maxBytes`: a Content-Length above it is refused before reading, a body that grows past
 * it is refused once it does, and nothing past the bound is kept in memory.
 */
export async function readBody(req: IncomingMessage, maxBytes = JSON_BODY_LIMIT): Promise<Buffer> {
  const tooLarge = () => new BodyTooLarge(`request body is larger than ${maxBytes} bytes`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > maxBytes) {
        chunks.length = 0;
        if (size > DRAIN_LIMIT) break;
        continue;
      }
      chunks.push(c as Buffer);
    }
  } catch {
    throw new InvalidParameter('request body ended before its declared length');
  }
  if (size > maxBytes) throw tooLarge();
  return Buffer.concat(chunks);
}

export interface JsonBodyOptions {
  /** Go's type name of the body in Docker, for its "cannot unmarshal array into Go value of type T". */
  type?: string;
  maxBytes?: number;
}

/**
 * Parses a JSON object body; an empty body or `null` is `fallback`. The body is bounded and
 * checked (an object, nested no deeper than any API body) before it is parsed, so no request
 * can hold the event loop in JSON.parse. Docker answers bad JSON with 400.
 */
export async function readJson<T>(
  ctx: Pick<RequestContext, 'req'>,
  fallback: T,
  opts: JsonBodyOptions = {},
): Promise<T> {
  const buf = await readBody(ctx.req, opts.maxBytes ?? JSON_BODY_LIMIT);
  if (checkJsonBody(buf, opts.type ?? 'map[string]interface {}') !== 'object') return fallback;
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch (err) {
    throw new InvalidParameter(`invalid JSON: ${(err as Error).message}`);
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const data = body === undefined ? '' : goJson(body, false) + '\n';
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
    else if (v && typeof v === 'object')
      out.set(
        k,
        Object.keys(v as object).filter((x) => (v as Record<string, unknown>)[x]),
      );
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
  return (msg) => {
    res.write(goJson(msg) + '\r\n');
  };
}
