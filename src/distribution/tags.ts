// A repository's tags from GET /v2/<name>/tags/list, following the registry's pages: each page
// may name the next in a `Link: <url>; rel="next"` header (the distribution spec's pagination),
// which is read relative to the page that named it. Refusals in dockerd's words for a
// repository (it names the repository, not a manifest).
import { NotFound, SystemError } from '../errors.js';
import { familiar } from '../image/reference.js';
import { readBody, type HttpResponse } from './http-client.js';
import { registryErrorText, unexpected } from './registry-error.js';
import type { RegistrySession } from './session.js';

/** Far beyond any real repository; a registry naming pages forever is stopped here. */
const MAX_PAGES = 10_000;
const MAX_PAGE_BYTES = 4 << 20;

/** The URL a `Link` header names as the next page, if any. */
export function nextPageLink(header: string | string[] | undefined): string | undefined {
  const values = Array.isArray(header) ? header : header ? [header] : [];
  for (const value of values) {
    // One header may carry several links separated by commas.
    for (const link of value.split(/,(?=\s*<)/)) {
      const [target, ...params] = link.split(';');
      if (!target || !params.some((p) => /^\s*rel="?next"?\s*$/i.test(p))) continue;
      const url = target.trim().replace(/^<|>$/g, '');
      if (url) return url;
    }
  }
  return undefined;
}

async function refusal(res: HttpResponse, name: string): Promise<Error> {
  const shown = familiar(name);
  if (res.status === 404 || res.status === 403 || res.status === 401) {
    const text = await registryErrorText(res);
    if (text?.startsWith('name unknown')) return new NotFound(`repository ${shown} not found: ${text}`);
    if (text?.startsWith('denied') || res.status === 403)
      return new NotFound(
        `pull access denied for ${shown}, repository does not exist or may require 'docker login': ${text ?? 'denied: requested access to the resource is denied'}`,
      );
    if (res.status === 401) return new SystemError(text ?? 'unauthorized: authentication required');
    return new NotFound(
      `repository ${shown} not found: ${text ?? 'name unknown: repository name not known to registry'}`,
    );
  }
  return unexpected(res, `error listing tags of ${shown}`);
}

/** Every tag of the session's repository, in the registry's order, over as many pages as it sends. */
export async function listTags(session: RegistrySession, name: string): Promise<string[]> {
  const tags: string[] = [];
  let target: string | URL = 'tags/list';
  const seen = new Set<string>();
  for (let page = 0; ; page++) {
    if (page >= MAX_PAGES) throw new SystemError(`error listing tags of ${familiar(name)}: too many pages`);
    const url: URL = typeof target === 'string' ? session.url(target) : target;
    if (seen.has(url.toString()))
      throw new SystemError(`error listing tags of ${familiar(name)}: the registry named page ${url} twice`);
    seen.add(url.toString());
    const res = await session.request(url, { shownMethod: 'GET' });
    if (res.status !== 200) throw await refusal(res, name);
    const body = await readBody(res, MAX_PAGE_BYTES);
    let parsed: { tags?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8')) as { tags?: unknown };
    } catch {
      throw new SystemError(`error listing tags of ${familiar(name)}: invalid JSON from the registry`);
    }
    // An empty repository lists `"tags": null`.
    if (parsed.tags !== null && parsed.tags !== undefined) {
      if (!Array.isArray(parsed.tags) || !parsed.tags.every((t) => typeof t === 'string'))
        throw new SystemError(`error listing tags of ${familiar(name)}: tags is not a list of strings`);
      tags.push(...(parsed.tags as string[]));
    }
    const next = nextPageLink(res.headers.link);
    if (!next) return tags;
    target = new URL(next, url);
    // Credentials go only where the page came from.
    if (target.origin !== url.origin)
      throw new SystemError(`error listing tags of ${familiar(name)}: next page on another host (${target.origin})`);
  }
}
