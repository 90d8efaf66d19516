// Image references after distribution/reference: `alpine` is docker.io/library/alpine:latest
// inside the store, and shown in its familiar form (`alpine:latest`) wherever Docker shows it.
import { InvalidParameter } from '../errors.js';

const alnum = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domain = `${domainComponent}(?:\\.${domainComponent})*(?::[0-9]+)?`;
const tagPattern = /^[\w][\w.-]{0,127}$/;
const digestPattern = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const namePattern = new RegExp(`^(?:${domain}/)?${pathComponent}(?:/${pathComponent})*$`);
const hex64 = /^[a-f0-9]{64}$/;

export const defaultDomain = 'docker.io';

export interface ParsedReference {
  /** Full repository name: docker.io/library/alpine */
  name: string;
  tag?: string;
  digest?: string;
}

/** ParseNormalizedNamed: the full name plus tag/digest as written (no default tag added). */
export function parseNormalizedNamed(s: string): ParsedReference {
  if (hex64.test(s))
    throw new InvalidParameter(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestPattern.test(digest)) throw new InvalidParameter('invalid reference format');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagPattern.test(tag)) throw new InvalidParameter('invalid reference format');
  }
  if (rest === '') throw new InvalidParameter('invalid reference format');
  const [dom, remainder] = splitDomain(rest);
  if (remainder.toLowerCase() !== remainder)
    throw new InvalidParameter('invalid reference format: repository name must be lowercase');
  if (!namePattern.test(`${dom}/${remainder}`)) throw new InvalidParameter('invalid reference format');
  const name = `${dom}/${remainder}`;
  if (name.length > 255) throw new InvalidParameter('repository name must not be more than 255 characters');
  return { name, tag, digest };
}

function splitDomain(name: string): [string, string] {
  const i = name.indexOf('/');
  let dom: string;
  let remainder: string;
  // As dockerd 20.10: a first component without '.' or ':' is a path, whatever its case (so
  // `Foo/bar` is a name that must be lowercase, not a registry called Foo).
  if (i === -1 || (!/[.:]/.test(name.slice(0, i)) && name.slice(0, i) !== 'localhost')) {
    dom = defaultDomain;
    remainder = name;
  } else {
    dom = name.slice(0, i);
    remainder = name.slice(i + 1);
  }
  if (dom === 'index.docker.io') dom = defaultDomain;
  if (dom === defaultDomain && !remainder.includes('/')) remainder = `library/${remainder}`;
  return [dom, remainder];
}

/** A tag as the tag, import and pull endpoints take it apart from the repository. */
export function checkTag(tag: string): void {
  if (!tagPattern.test(tag)) throw new InvalidParameter('invalid tag format');
}

/** The reference store refuses a repository that reads as a digest algorithm (`sha256:…`). */
export function checkNotAmbiguous(full: string): void {
  if (familiar(repositoryOf(full)) === 'sha256')
    throw new InvalidParameter('refusing to create an ambiguous tag using digest algorithm as name');
}

/** The stored key of a tag: docker.io/library/alpine:latest (TagNameOnly adds `latest`). */
export function normalizeTagged(s: string): string {
  const r = parseNormalizedNamed(s);
  if (r.digest) return `${r.name}@${r.digest}`;
  return `${r.name}:${r.tag ?? 'latest'}`;
}

/** FamiliarString: docker.io/library/alpine:latest → alpine:latest. */
export function familiar(full: string): string {
  let s = full;
  if (s.startsWith(`${defaultDomain}/`)) {
    s = s.slice(defaultDomain.length + 1);
    if (s.startsWith('library/') && !s.slice('library/'.length).split(/[:@]/)[0]!.includes('/'))
      s = s.slice('library/'.length);
  }
  return s;
}

/** The repository part of a stored reference (without :tag or @digest). */
export function repositoryOf(full: string): string {
  const at = full.indexOf('@');
  if (at >= 0) return full.slice(0, at);
  const colon = full.lastIndexOf(':');
  return colon > full.lastIndexOf('/') ? full.slice(0, colon) : full;
}

/** Whether `ref` is a (possibly short, possibly sha256:-prefixed) ID prefix of `id`. */
export function isImageIDPrefix(id: string, ref: string): boolean {
  const hex = id.replace(/^sha256:/, '');
  const r = ref.replace(/^sha256:/, '');
  return r.length > 0 && /^[a-f0-9]+$/.test(r) && hex.startsWith(r);
}

export function shortID(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
