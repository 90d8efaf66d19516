// A minimal Engine API client for the strata CLI's own commands; the docker CLI remains
// the main client. The host comes from -H/--host or $DOCKER_HOST, like docker.
import http from 'node:http';
import { socketPathOf } from '../util/socket-path.js';

export const DEFAULT_HOST = 'unix:///run/strata/strata.sock';

export function resolveHost(flag?: string): string {
  return flag ?? process.env.DOCKER_HOST ?? DEFAULT_HOST;
}

export function request(host: string, method: string, path: string, body?: unknown): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      { socketPath: socketPathOf(host), method, path, headers: data ? { 'Content-Type': 'application/json' } : {} },
      resolve,
    );
    req.on('error', reject);
    req.end(data);
  });
}

export async function requestJson<T>(host: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(host, method, path, body);
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const parsed = text ? JSON.parse(text) : undefined;
  if ((res.statusCode ?? 500) >= 400) throw new Error(`Error response from daemon: ${parsed?.message ?? text}`);
  return parsed as T;
}

/** `--format json` prints the daemon's answer as it is; anything else, the human table. */
export function printAnswer(format: string | undefined, answer: unknown, table: () => string): void {
  process.stdout.write(format === 'json' ? JSON.stringify(answer) + '\n' : table());
}
