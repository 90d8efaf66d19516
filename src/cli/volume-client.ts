// HTTP helpers for the `strata volume` commands: streamed bodies (tar in and out), the
// newline-delimited JSON progress streams, and the backup password header.
import http from 'node:http';
import type { Readable } from 'node:stream';
import { socketPathOf } from '../util/socket-path.js';

export const PASSWORD_ENV = 'STRATA_BACKUP_PASSWORD';

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { ...extra };
  const pw = process.env[PASSWORD_ENV];
  if (pw) h['X-Strata-Backup-Password'] = pw;
  return h;
}

/** Sends `body` (JSON value or a stream) and resolves with the response; a 4xx/5xx becomes an Error with the daemon's message. */
export async function call(
  host: string,
  method: string,
  path: string,
  body?: unknown | Readable,
): Promise<http.IncomingMessage> {
  const isStream = typeof (body as Readable | undefined)?.pipe === 'function';
  const data = body === undefined || isStream ? undefined : JSON.stringify(body);
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.request(
      {
        socketPath: socketPathOf(host),
        method,
        path,
        headers: headers(
          isStream
            ? { 'Content-Type': 'application/x-tar', 'Transfer-Encoding': 'chunked' }
            : data
              ? { 'Content-Type': 'application/json' }
              : {},
        ),
      },
      resolve,
    );
    req.on('error', reject);
    if (isStream) (body as Readable).on('error', (e) => req.destroy(e)).pipe(req);
    else req.end(data);
  });
  if ((res.statusCode ?? 500) >= 400) {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let message = text;
    try {
      message = JSON.parse(text).message ?? text;
    } catch {
      /* not JSON */
    }
    throw new Error(`Error response from daemon: ${message.trim()}`);
  }
  return res;
}

export async function callJson<T>(host: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await call(host, method, path, body);
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Reads a JSON-lines progress stream; calls `onProgress` per message; resolves with the final result or throws its error. */
export async function callStream<T>(
  host: string,
  path: string,
  body: unknown,
  onMessage: (m: Record<string, any>) => void,
): Promise<T> {
  const res = await call(host, 'POST', path, body);
  let pending = '';
  let result: T | undefined;
  let failure: string | undefined;
  res.setEncoding('utf8');
  for await (const chunk of res) {
    pending += chunk as string;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (!line) continue;
      const m = JSON.parse(line) as Record<string, any>;
      if ('result' in m) result = m.result as T;
      else if (m.error) failure = m.error;
      else onMessage(m);
    }
  }
  if (failure !== undefined) throw new Error(`Error response from daemon: ${failure}`);
  if (result === undefined) throw new Error('the daemon closed the stream without a result');
  return result;
}
