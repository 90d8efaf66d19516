// Registry credentials and the WWW-Authenticate dance: the credentials a request brings (the
// API decodes them from its X-Registry-Auth header), challenges (Basic, Bearer), and Bearer
// tokens fetched from the challenge's realm for a scope and kept until they expire.
import { createHash } from 'node:crypto';
import { Unauthorized } from '../errors.js';
import type { HttpResponse } from './http-client.js';
import { readBody, send } from './http-client.js';
import type { Endpoint } from './endpoint.js';

export interface AuthConfig {
  username?: string;
  password?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

export const hasCredentials = (c: AuthConfig): boolean => !!(c.username || c.identitytoken || c.registrytoken);

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="…",service="…",scope="…"`, one challenge per header line. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const out: Challenge[] = [];
  for (const h of Array.isArray(header) ? header : header ? [header] : []) {
    const m = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(h);
    if (!m) continue;
    const params: Record<string, string> = {};
    for (const p of m[2]!.matchAll(/([\w-]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
      params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
    }
    out.push({ scheme: m[1]!.toLowerCase(), params });
  }
  return out;
}

interface CachedToken {
  token: string;
  expires: number;
}
const tokens = new Map<string, CachedToken>();

/** A Bearer token for `scopes`, from the cache or the realm. */
export async function bearerToken(
  ch: Challenge,
  scopes: string[],
  creds: AuthConfig,
  ep: Endpoint,
  signal?: AbortSignal,
): Promise<string> {
  if (creds.registrytoken) return creds.registrytoken;
  const realm = ch.params.realm;
  if (!realm) throw new Unauthorized('bearer challenge without realm');
  // Keyed by the whole credentials: a cached token must never stand in for a wrong password.
  const secret = createHash('sha256')
    .update(JSON.stringify([creds.username ?? '', creds.password ?? '', creds.identitytoken ?? '']))
    .digest('hex');
  const key = JSON.stringify([realm, ch.params.service ?? '', scopes, secret]);
  const hit = tokens.get(key);
  if (hit && hit.expires > Date.now()) return hit.token;
  const url = new URL(realm);
  const realmTls = url.host === ep.url.host ? { tls: ep.tls, insecure: ep.insecure } : {};
  let res: HttpResponse;
  if (creds.identitytoken) {
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: creds.identitytoken,
      client_id: 'docker',
      access_type: 'offline',
    });
    if (ch.params.service) form.set('service', ch.params.service);
    form.set('scope', scopes.join(' '));
    res = await send(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(form.toString()),
      ...realmTls,
      signal,
    });
  } else {
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    if (creds.username) url.searchParams.set('account', creds.username);
    const headers: Record<string, string> = {};
    if (creds.username) headers.Authorization = basic(creds);
    res = await send(url, { method: 'GET', headers, ...realmTls, signal });
  }
  const body = await readBody(res, 1 << 20);
  if (res.status === 401 || res.status === 403)
    throw new Unauthorized(`unauthorized: ${tokenError(body) ?? 'authentication required'}`);
  if (res.status !== 200)
    throw new Unauthorized(
      `token server ${url.host} answered ${res.status}: ${tokenError(body) ?? body.toString('utf8').slice(0, 200)}`,
    );
  let parsed: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
  try {
    parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
  } catch {
    throw new Unauthorized(`token server ${url.host} sent no JSON`);
  }
  const token = parsed.access_token || parsed.token;
  if (!token) throw new Unauthorized(`token server ${url.host} sent no token`);
  // A minute is the spec's default lifetime; renew a little early.
  const life = Math.max(10, Number(parsed.expires_in) || 60);
  const issued = Date.parse(parsed.issued_at ?? '') || Date.now();
  tokens.set(key, { token, expires: issued + (life - 5) * 1000 });
  return token;
}

function tokenError(body: Buffer): string | undefined {
  try {
    const j = JSON.parse(body.toString('utf8')) as { details?: string; errors?: { message?: string }[] };
    return j.details ?? j.errors?.[0]?.message;
  } catch {
    return undefined;
  }
}

export function basic(creds: AuthConfig): string {
  return 'Basic ' + Buffer.from(`${creds.username ?? ''}:${creds.password ?? ''}`).toString('base64');
}
