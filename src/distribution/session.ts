// Requests to one repository on one endpoint with one set of credentials: answers a 401 by
// meeting its challenge (Basic with the credentials, Bearer with a token for the session's
// scopes) and retrying once, then keeps the Authorization for the following requests. An
// insecure registry that does not speak TLS is spoken to over plain HTTP, as Docker does.
import type { Readable } from 'node:stream';
import { StrataError, SystemError } from '../errors.js';
import { dialErrorText } from './dial-error.js';
import { basic, bearerToken, hasCredentials, parseChallenges, type AuthConfig, type Challenge } from './auth.js';
import type { Endpoint, Repository } from './endpoint.js';
import { discard, send, type HttpResponse } from './http-client.js';

/** Hosts found not to speak TLS, per daemon lifetime. */
const plainHosts = new Set<string>();

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  /**
   * The method dockerd would have used, when a refusal names the request as Go's url.Error
   * does (`Head "URL": no basic auth credentials`): dockerd asks for a tag's manifest with HEAD.
   */
  shownMethod?: 'HEAD' | 'GET';
  /** A 401 only teaches the challenge: it is answered as it came, not retried with credentials. */
  learnChallenge?: boolean;
  /** Ends this request when aborted, in place of the session's own signal. */
  signal?: AbortSignal;
}

export class RegistrySession {
  private challenge?: Challenge;
  private base: URL;

  constructor(
    readonly endpoint: Endpoint,
    readonly repo: Repository,
    readonly creds: AuthConfig,
    /** `repository:<path>:pull[,push]` and any extra (cross-repository mount sources). */
    readonly scopes: string[],
    /** Ends every request of the session (unless one brings its own) once the operation is called off. */
    readonly signal?: AbortSignal,
  ) {
    this.base = new URL(endpoint.url);
    if (endpoint.plainHttpFallback && plainHosts.has(this.base.host)) this.base.protocol = 'http:';
  }

  /** `/v2/<repo>/…` for a path below the repository, or an absolute URL (upload locations). */
  url(rel: string): URL {
    return new URL(rel.startsWith('/') ? rel : `/v2/${this.repo.path}/${rel}`, this.base);
  }

  get scheme(): string {
    return this.base.protocol.replace(':', '');
  }

  async request(target: string | URL, opts: RequestOptions = {}): Promise<HttpResponse> {
    const method = opts.method ?? 'GET';
    const signal = opts.signal ?? this.signal;
    signal?.throwIfAborted();
    let url = typeof target === 'string' ? this.url(target) : target;
    const attempt = async () => {
      const headers = { ...opts.headers };
      const auth = await this.authorization(signal);
      if (auth) headers.Authorization = auth;
      try {
        return await send(url, {
          method,
          headers,
          body: opts.body,
          tls: this.endpoint.tls,
          insecure: this.endpoint.insecure,
          signal,
        });
      } catch (err) {
        // As dockerd: an insecure registry's HTTPS endpoint failing, its HTTP one is next.
        if (!this.endpoint.plainHttpFallback || url.protocol !== 'https:' || signal?.aborted) throw err;
        const plain = new URL(url);
        plain.protocol = 'http:';
        url = plain;
        const res = await send(plain, { method, headers, body: opts.body, signal });
        plainHosts.add(plain.host);
        this.base.protocol = 'http:';
        return res;
      }
    };
    let res: HttpResponse;
    try {
      res = await attempt();
    } catch (err) {
      if (err instanceof StrataError) throw err;
      // Called off: the reason, not a registry that could not be reached.
      if (signal?.aborted) throw signal.reason;
      // Go's url.Error, as dockerd prints a registry it cannot reach, and its status: a 500.
      throw new SystemError(`${method[0]}${method.slice(1).toLowerCase()} "${url}": ${dialErrorText(err)}`, {
        cause: err,
      });
    }
    if (res.status !== 401) return res;
    const ch = parseChallenges(res.headers['www-authenticate']).find(
      (c) => c.scheme === 'bearer' || c.scheme === 'basic',
    );
    if (!ch) return res;
    this.challenge = ch;
    if (opts.learnChallenge) return res;
    // A streamed body is gone: the caller pinged first, so this 401 is the final answer.
    if (opts.body !== undefined && !Buffer.isBuffer(opts.body)) return res;
    discard(res);
    // dockerd's words, and not a 401: the docker CLI answers a 401 from pull or push with a
    // login prompt, which a script without a terminal waits on forever.
    if (ch.scheme === 'basic' && !hasCredentials(this.creds)) {
      const shown = opts.shownMethod && `${opts.shownMethod[0]}${opts.shownMethod.slice(1).toLowerCase()} "${url}": `;
      throw new SystemError(`${shown || ''}no basic auth credentials`);
    }
    return attempt();
  }

  /** Learns the registry's challenge before a request whose body cannot be sent twice. */
  async ping(): Promise<HttpResponse> {
    return this.request('/v2/');
  }

  /** dockerd's ping before a pull: reaches the registry and learns its challenge, sending no credentials yet. */
  async probe(): Promise<void> {
    discard(await this.request('/v2/', { learnChallenge: true }));
  }

  /** The Authorization header for the next request; a token fetch ends with the operation (`signal`). */
  private async authorization(signal?: AbortSignal): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') return hasCredentials(this.creds) ? basic(this.creds) : undefined;
    return `Bearer ${await bearerToken(ch, this.scopes, this.creds, this.endpoint, signal)}`;
  }
}
