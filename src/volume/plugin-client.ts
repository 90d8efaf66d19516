// Docker's v1 plugin transport: JSON RPC over HTTP POST to a unix socket or a tcp address,
// `Accept: application/vnd.docker.plugins.v1+json`, errors in the body's "Err".
import http from 'node:http';
import { SystemError, Unavailable } from '../errors.js';

export const PLUGIN_MEDIA_TYPE = 'application/vnd.docker.plugins.v1+json';

export type PluginAddress = { socketPath: string } | { host: string; port: number };

/** How long an answer may take; a plugin mounting a network filesystem can be slow. */
const CALL_TIMEOUT_MS = 60_000;
/**
 * Docker retries an unreachable plugin with backoff for up to 30 s. Strata retries a few
 * seconds only: long enough for a restarting plugin, short enough not to hang an API call.
 */
const RETRY_FOR_MS = 3_000;

export function parsePluginAddress(addr: string): PluginAddress {
  const a = addr.trim();
  if (a.startsWith('unix://')) return { socketPath: a.slice('unix://'.length) };
  const m = /^(?:tcp|http):\/\/([^/:]+|\[[^\]]+\]):(\d+)\/?$/.exec(a);
  if (m) return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  throw new SystemError(`unsupported plugin address ${JSON.stringify(a)}: use unix:// or tcp://`);
}

export class PluginClient {
  constructor(readonly address: PluginAddress) {}

  /** POSTs `body` to `/<method>` and returns the decoded answer; a non-empty Err becomes an error. */
  async call<T extends { Err?: string }>(method: string, body: unknown = {}): Promise<T> {
    const deadline = Date.now() + RETRY_FOR_MS;
    for (let delay = 100; ; delay *= 2) {
      try {
        return await this.once<T>(method, body);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const unreachable = code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'ECONNRESET';
        if (!unreachable) throw err;
        if (Date.now() + delay > deadline)
          throw new Unavailable(`${method}: plugin not reachable: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private once<T extends { Err?: string }>(method: string, body: unknown): Promise<T> {
    const data = JSON.stringify(body ?? {});
    return new Promise<T>((resolve, reject) => {
      const req = http.request(
        {
          ...this.address,
          method: 'POST',
          path: `/${method}`,
          headers: {
            Accept: PLUGIN_MEDIA_TYPE,
            'Content-Type': PLUGIN_MEDIA_TYPE,
            'Content-Length': Buffer.byteLength(data),
          },
          timeout: CALL_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: T | undefined;
            try {
              parsed = text ? (JSON.parse(text) as T) : ({} as T);
            } catch {
              /* a plain-text answer */
            }
            if (res.statusCode !== 200) {
              reject(new SystemError(`${method}: ${parsed?.Err || text.trim() || `HTTP ${res.statusCode}`}`));
            } else if (parsed === undefined) {
              reject(new SystemError(`${method}: invalid JSON from plugin: ${text.slice(0, 200)}`));
            } else if (parsed.Err) {
              reject(new SystemError(parsed.Err));
            } else {
              resolve(parsed);
            }
          });
        },
      );
      req.on('timeout', () =>
        req.destroy(new SystemError(`${method}: plugin did not answer in ${CALL_TIMEOUT_MS / 1000} s`)),
      );
      req.on('error', reject);
      req.end(data);
    });
  }
}
