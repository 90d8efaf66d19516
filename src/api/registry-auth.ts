// The X-Registry-Auth header of pull, push and /distribution: credentials the docker CLI sends
// as base64url JSON. Decoding it is the API's (as moby keeps DecodeAuthConfig with its API
// types): the registry client is loaded only when a request needs it.
import { InvalidParameter } from '../errors.js';
import type { AuthConfig } from '../distribution/backend.js';

/** Base64url (padded or not) JSON; absent or `{}` means anonymous. */
export function decodeRegistryAuth(header: string | string[] | undefined | null): AuthConfig {
  if (Array.isArray(header)) header = header[0];
  if (!header) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
  } catch {
    throw new InvalidParameter('invalid X-Registry-Auth header: malformed JSON');
  }
  if (!parsed || typeof parsed !== 'object') return {};
  const fields = parsed; // a const keeps its narrowing to an object inside the closure
  const str = (k: string): string | undefined => {
    const v: unknown = Reflect.get(fields, k);
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  return {
    username: str('username'),
    password: str('password'),
    serveraddress: str('serveraddress'),
    identitytoken: str('identitytoken'),
    registrytoken: str('registrytoken'),
  };
}
